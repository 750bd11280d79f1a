// SentencePiece-style BPE (llama.cpp's llm_tokenizer_spm): start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring vocab entry
// (ties: leftmost), then spell each final symbol as its token, or, when it is not one,
// spell it as <0xNN> byte tokens.
#include <queue>
#include <string>
#include <vector>

#include "alloy/llm/tokenizer/byte_unicode.h"
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

namespace {

struct Symbol {
  int prev, next;
  size_t offset, n;  // bytes of the text; n == 0 once merged into its left neighbour
};

struct Bigram {
  int left, right;
  float score;
  size_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

}  // namespace

int32_t Tokenizer::spm_byte_token(uint8_t byte) const {
  static const char* hex = "0123456789ABCDEF";
  std::string name = "<0x";
  name += hex[byte >> 4];
  name += hex[byte & 15];
  name += '>';
  int32_t id = token_id(name);
  if (id < 0) id = token_id(std::string(1, static_cast<char>(byte)));
  return id < 0 ? unk_id_ : id;
}

void Tokenizer::encode_spm(const std::string& text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  for (size_t offs = 0; offs < text.size();) {
    size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(text[offs])), text.size() - offs);
    int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offs + n == text.size() ? -1 : index + 1, offs, n});
    offs += n;
  }
  if (symbols.empty()) return;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    std::string_view s =
        std::string_view(text).substr(symbols[left].offset, symbols[left].n + symbols[right].n);
    if (spm_merge_by_rank_) {
      // Hugging Face BPE: only listed pairs merge, lowest rank first (score = -rank).
      int32_t rank = merge_rank(s.substr(0, symbols[left].n), s.substr(symbols[left].n));
      if (rank < 0 || token_id(s) < 0) return;
      queue.push({left, right, -static_cast<float>(rank), s.size()});
      return;
    }
    int32_t id = token_id(s);
    if (id < 0) return;
    queue.push({left, right, scores_[id], s.size()});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  // A merged symbol is always a vocab entry (only such pairs enter the queue), so llama.cpp's
  // re-segmentation along reverse merges never triggers: a symbol is a token or a character
  // spelled as byte tokens.
  for (int i = 0; i != -1; i = symbols[i].next) {
    std::string_view s = std::string_view(text).substr(symbols[i].offset, symbols[i].n);
    int32_t id = token_id(s);
    if (id >= 0) {
      out.push_back(id);
    } else {
      for (char c : s) out.push_back(spm_byte_token(static_cast<uint8_t>(c)));
    }
  }
}

}  // namespace alloy::llm
