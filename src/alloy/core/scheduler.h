// Stream workers: one thread per stream runs that stream's tasks in submission order. Each task
// has an event value (its 1-based position on the stream); an array scheduled on a stream
// records its value, and waiting for it means waiting until the stream's completed counter
// reaches it. This orders work across streams and lets the host wait only when it reads data.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "alloy/core/device.h"

namespace alloy::scheduler {

using Task = std::function<void()>;

// Queues tasks on the stream in order; returns the event value of the first one.
uint64_t enqueue(const Stream& s, std::vector<Task> tasks);
// The event value the next enqueued task will get.
uint64_t next_event_value(const Stream& s);
// The calling thread runs `count` tasks of the stream itself, in place of its worker, when the
// stream is idle (nothing queued or running): true if claimed. The caller then passes exactly
// those tasks to run_claimed; the stream runs nothing else until they finish.
bool claim_inline(const Stream& s, size_t count);
void run_claimed(const Stream& s, std::vector<Task> tasks);
// Marks the stream's next task as finished (a task calls this exactly once, possibly later,
// from a device completion callback).
void signal_completed(int stream_index);
void wait_for(int stream_index, uint64_t value);
bool is_worker_thread();
// Registers a stream (device.cpp calls this); returns its index.
int create_stream(Device d);
Device stream_device(int stream_index);
void synchronize_all();

}  // namespace alloy::scheduler
