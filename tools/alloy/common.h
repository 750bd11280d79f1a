// What the alloy subcommands share: loading the model named by -m with --device/--ctx, the
// sampling flags, and formatting of sizes.
#pragma once

#include <string>

#include "alloy/llm/generate/generate.h"
#include "alloy/llm/load.h"
#include "args.h"

namespace alloy::cli {

// -m/--model, --device cpu|gpu, --ctx N.
llm::LoadedModel load_model(Args& args);
// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed; llama.cpp's defaults.
llm::SamplingOptions sampling_options(Args& args);
// --cache-type f16|bf16|f32|q8_0 (llama.cpp's -ctk/-ctv, one type for both); default f16.
llm::KVCacheType kv_cache_type(Args& args);
std::string format_bytes(double bytes);     // "1.23 GiB"
std::string format_count(double count);     // "1.24 B"

int cmd_generate(Args& args);
int cmd_chat(Args& args);
int cmd_bench(Args& args);
int cmd_info(Args& args);
int cmd_synth(Args& args);
int cmd_quantize(Args& args);
int cmd_convert(Args& args);

}  // namespace alloy::cli
