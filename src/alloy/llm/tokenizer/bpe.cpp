// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): per pre-token, start from its characters
// (byte-encoded codepoints) and merge the adjacent pair of lowest merge rank (ties: leftmost)
// until no pair has a rank. A priority queue holds candidate pairs; stale ones are skipped.
#include <queue>
#include <string>
#include <vector>

#include "alloy/llm/tokenizer/byte_unicode.h"
#include "alloy/llm/tokenizer/pretokenize.h"
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

namespace {

struct Symbol {
  int prev, next;
  size_t offset, n;  // bytes of the word; n == 0 once merged into its left neighbour
};

struct Bigram {
  int left, right;
  int32_t rank;
  size_t size;  // bytes of the merged text: a pair is stale when its symbols changed
};

struct BigramOrder {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
  }
};

}  // namespace

int32_t Tokenizer::merge_rank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key += left;
  key += '\0';
  key += right;
  auto it = merge_ranks_.find(key);
  return it == merge_ranks_.end() ? -1 : it->second;
}

void Tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  for (const std::string& word : pre_tokenizer_->split(text)) bpe_word(word, out);
}

void Tokenizer::bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (int32_t id = token_id(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t offs = 0; offs < word.size();) {
    size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(word[offs])), word.size() - offs);
    int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offs + n == word.size() ? -1 : index + 1, offs, n});
    offs += n;
  }
  std::string_view w(word);
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    int32_t rank = merge_rank(w.substr(l.offset, l.n), w.substr(r.offset, r.n));
    if (rank >= 0) queue.push({left, right, rank, l.n + r.n});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    // Symbols only grow and stay contiguous, so equal total size means the same pair.
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size || l.next != b.right) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    std::string_view s = w.substr(symbols[i].offset, symbols[i].n);
    if (int32_t id = token_id(s); id >= 0) {
      out.push_back(id);
      continue;
    }
    // No token for the merged text: llama.cpp falls back to single-byte entries where they exist.
    for (char c : s)
      if (int32_t id = token_id(std::string_view(&c, 1)); id >= 0) out.push_back(id);
  }
}

}  // namespace alloy::llm
