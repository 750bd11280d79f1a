// einsum with NumPy's subscript syntax, composed from ops (so gradients and backends come for
// free). Each operand first takes diagonals for repeated labels and sums labels no one else
// needs; the operands are then contracted left to right, each pair with one batched matmul
// (batch, free_a, contracted) x (batch, contracted, free_b). Ellipsis dims become extra labels,
// right-aligned across operands and broadcast where one side has size 1.
#include <algorithm>
#include <map>
#include <numeric>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

namespace {

constexpr int kEllipsisBase = 52;  // labels 0..51 are letters; ellipsis dims follow

int letter_label(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

char label_char(int l) { return l < 26 ? char('a' + l) : char('A' + l - 26); }

// One side of "->": letters and at most one "...", parsed into labels (-1 marks the ellipsis).
std::vector<int> parse_term(const std::string& term, const std::string& subscripts) {
  std::vector<int> out;
  bool ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (c == '.') {
      if (term.compare(i, 3, "...") != 0) {
        fail("einsum", "'.' must be part of an ellipsis \"...\" in \"", subscripts, "\"");
      }
      if (ellipsis) fail("einsum", "more than one ellipsis in the term \"", term, "\" of \"", subscripts, "\"");
      ellipsis = true;
      out.push_back(-1);
      i += 2;
      continue;
    }
    int l = letter_label(c);
    if (l < 0) fail("einsum", "invalid character '", c, "' in subscripts \"", subscripts, "\"");
    out.push_back(l);
  }
  return out;
}

struct Operand {
  array value;
  std::vector<int> labels;  // one per axis
};

// Takes the diagonal of every label repeated within one operand ("ii" -> "i").
Operand take_diagonals(Operand op, Stream s) {
  for (;;) {
    int first = -1, second = -1;
    for (size_t i = 0; i < op.labels.size() && first < 0; ++i) {
      for (size_t j = i + 1; j < op.labels.size(); ++j) {
        if (op.labels[i] == op.labels[j]) {
          first = int(i);
          second = int(j);
          break;
        }
      }
    }
    if (first < 0) return op;
    if (op.value.shape(first) != op.value.shape(second)) {
      fail("einsum", "label '", label_char(op.labels[first]), "' repeated in one operand has sizes ",
           op.value.shape(first), " and ", op.value.shape(second));
    }
    int l = op.labels[first];
    op.value = diagonal(op.value, 0, first, second, s);  // the diagonal becomes the last axis
    op.labels.erase(op.labels.begin() + second);
    op.labels.erase(op.labels.begin() + first);
    op.labels.push_back(l);
  }
}

// Sums the axes whose labels are not in `keep`.
Operand sum_unneeded(Operand op, const std::vector<int>& keep, Stream s) {
  Axes axes;
  std::vector<int> labels;
  for (size_t i = 0; i < op.labels.size(); ++i) {
    if (std::find(keep.begin(), keep.end(), op.labels[i]) == keep.end()) axes.push_back(int(i));
    else labels.push_back(op.labels[i]);
  }
  if (axes.empty()) return op;
  return {sum(op.value, axes, false, s), labels};
}

// Transposes `op` to the label order `order` and broadcasts each axis to sizes[label].
array arrange(const Operand& op, const std::vector<int>& order, const std::map<int, int64_t>& sizes, Stream s) {
  Axes perm;
  Shape shape;
  for (int l : order) {
    auto it = std::find(op.labels.begin(), op.labels.end(), l);
    perm.push_back(int(it - op.labels.begin()));
    shape.push_back(sizes.at(l));
  }
  return broadcast_to(transpose(op.value, perm, s), shape, s);
}

// Contracts a and b over their shared labels not in `keep`; the result's labels are
// (batch, free_a, free_b).
Operand contract(const Operand& a, const Operand& b, const std::vector<int>& keep,
                 const std::map<int, int64_t>& sizes, Stream s) {
  auto has = [](const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); };
  std::vector<int> batch, free_a, free_b, summed;
  for (int l : a.labels) {
    if (has(b.labels, l)) (has(keep, l) ? batch : summed).push_back(l);
    else free_a.push_back(l);
  }
  for (int l : b.labels) {
    if (!has(a.labels, l)) free_b.push_back(l);
  }
  auto prod = [&](const std::vector<int>& ls) {
    int64_t p = 1;
    for (int l : ls) p *= sizes.at(l);
    return p;
  };
  int64_t nb = prod(batch), m = prod(free_a), n = prod(free_b), k = prod(summed);
  std::vector<int> order_a = batch, order_b = batch;
  order_a.insert(order_a.end(), free_a.begin(), free_a.end());
  order_a.insert(order_a.end(), summed.begin(), summed.end());
  order_b.insert(order_b.end(), summed.begin(), summed.end());
  order_b.insert(order_b.end(), free_b.begin(), free_b.end());
  array av = reshape(arrange(a, order_a, sizes, s), {nb, m, k}, s);   // (B, M, K)
  array bv = reshape(arrange(b, order_b, sizes, s), {nb, k, n}, s);   // (B, K, N)
  array prod_ab = [&] {
    if (summed.empty()) return multiply(av, reshape(bv, {nb, 1, n}, s), s);  // outer product
    if (is_floating(av.dtype())) return matmul(av, bv, s);
    // Integer operands: matmul is float-only, so multiply and sum.
    return astype(sum(multiply(expand_dims(av, 3, s), expand_dims(bv, 1, s), s), 2, false, s), av.dtype(), s);
  }();
  std::vector<int> labels = batch;
  labels.insert(labels.end(), free_a.begin(), free_a.end());
  labels.insert(labels.end(), free_b.begin(), free_b.end());
  Shape shape;
  for (int l : labels) shape.push_back(sizes.at(l));
  return {reshape(prod_ab, shape, s), labels};
}

}  // namespace

array einsum(const std::string& subscripts_in, const std::vector<array>& operands, SD sd) {
  Stream s = to_stream(sd);
  std::string subscripts;
  for (char c : subscripts_in) {
    if (c != ' ') subscripts.push_back(c);
  }
  if (operands.empty()) fail("einsum", "needs at least one operand");

  // Split "in1,in2,...->out".
  size_t arrow = subscripts.find("->");
  bool explicit_out = arrow != std::string::npos;
  std::string lhs = explicit_out ? subscripts.substr(0, arrow) : subscripts;
  std::string rhs = explicit_out ? subscripts.substr(arrow + 2) : "";
  if (explicit_out && rhs.find("->") != std::string::npos) {
    fail("einsum", "more than one \"->\" in \"", subscripts_in, "\"");
  }
  if (lhs.find('-') != std::string::npos || lhs.find('>') != std::string::npos || rhs.find(',') != std::string::npos) {
    fail("einsum", "malformed subscripts \"", subscripts_in, "\"");
  }
  std::vector<std::string> terms;
  size_t start = 0;
  for (;;) {
    size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != operands.size()) {
    fail("einsum", "subscripts \"", subscripts_in, "\" name ", terms.size(), " operands, got ", operands.size());
  }

  // Labels per operand with the ellipsis expanded (right-aligned across operands).
  std::vector<std::vector<int>> parsed;
  int n_ellipsis = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    parsed.push_back(parse_term(terms[i], subscripts_in));
    int letters = int(std::count_if(parsed[i].begin(), parsed[i].end(), [](int l) { return l >= 0; }));
    bool has_ellipsis = letters != int(parsed[i].size());
    int nd = operands[i].ndim();
    if (has_ellipsis ? letters > nd : letters != nd) {
      fail("einsum", "operand ", i, " has shape ", shape_to_string(operands[i].shape()), " but its subscripts \"",
           terms[i], "\" name ", letters, has_ellipsis ? " or more" : "", " dimensions");
    }
    if (has_ellipsis) n_ellipsis = std::max(n_ellipsis, nd - letters);
  }
  Dtype t = operands[0].dtype();
  for (auto& o : operands) t = promote_types(t, o.dtype());
  std::vector<Operand> ops;
  std::map<int, int64_t> sizes;
  std::map<int, int> counts;  // how many operands use each label
  for (size_t i = 0; i < parsed.size(); ++i) {
    const array& v = operands[i];
    int e = v.ndim() - int(std::count_if(parsed[i].begin(), parsed[i].end(), [](int l) { return l >= 0; }));
    std::vector<int> labels;
    for (int l : parsed[i]) {
      if (l >= 0) {
        labels.push_back(l);
        continue;
      }
      for (int j = 0; j < e; ++j) labels.push_back(kEllipsisBase + n_ellipsis - e + j);
    }
    std::vector<int> seen;
    for (size_t ax = 0; ax < labels.size(); ++ax) {
      int l = labels[ax];
      int64_t n = v.shape(int(ax));
      auto it = sizes.find(l);
      bool ellipsis_dim = l >= kEllipsisBase;
      if (it == sizes.end()) {
        sizes[l] = n;
      } else if (it->second != n) {
        // Size 1 broadcasts against any size, as in NumPy (repeats within one operand excepted).
        if ((n == 1 || it->second == 1) && std::find(seen.begin(), seen.end(), l) == seen.end()) {
          it->second = std::max(it->second, n);
        } else {
          std::string what = ellipsis_dim ? "ellipsis dimensions" : "label '" + std::string(1, label_char(l)) + "'";
          fail("einsum", what, " of sizes ", it->second, " and ", n, " do not match (operand ", i, " has shape ",
               shape_to_string(v.shape()), ")");
        }
      }
      if (std::find(seen.begin(), seen.end(), l) == seen.end()) {
        seen.push_back(l);
        counts[l] += 1;
      }
    }
    ops.push_back({astype(v, t, s), labels});
  }

  // Output labels: explicit, or (implicit) the ellipsis dims then letters used once, sorted.
  std::vector<int> out_labels;
  if (explicit_out) {
    bool has_ellipsis = false;
    for (int l : parse_term(rhs, subscripts_in)) {
      if (l < 0) {
        has_ellipsis = true;
        for (int j = 0; j < n_ellipsis; ++j) out_labels.push_back(kEllipsisBase + j);
        continue;
      }
      if (std::find(out_labels.begin(), out_labels.end(), l) != out_labels.end()) {
        fail("einsum", "output subscript '", label_char(l), "' appears more than once in \"", subscripts_in, "\"");
      }
      if (!sizes.count(l)) {
        fail("einsum", "output subscript '", label_char(l), "' does not appear in the inputs of \"", subscripts_in,
             "\"");
      }
      out_labels.push_back(l);
    }
    if (!has_ellipsis && n_ellipsis > 0) {
      fail("einsum", "the inputs of \"", subscripts_in, "\" have ellipsis dimensions but the output has no \"...\"");
    }
  } else {
    for (int j = 0; j < n_ellipsis; ++j) out_labels.push_back(kEllipsisBase + j);
    std::map<int, int> per_term;  // occurrences over all terms, repeats within a term included
    for (auto& p : parsed) {
      for (int l : p) {
        if (l >= 0) per_term[l] += 1;
      }
    }
    for (auto& [l, c] : per_term) {
      if (c == 1) out_labels.push_back(l);
    }
    // Letters sort in NumPy order: uppercase before lowercase.
    std::stable_sort(out_labels.begin() + n_ellipsis, out_labels.end(), [](int a, int b) {
      return label_char(a) < label_char(b);
    });
  }

  // Diagonals, then early sums of labels used by one operand only and absent from the output.
  for (auto& op : ops) {
    op = take_diagonals(op, s);
    std::vector<int> keep = out_labels;
    for (int l : op.labels) {
      if (counts[l] > 1) keep.push_back(l);
    }
    op = sum_unneeded(op, keep, s);
  }

  // Left-to-right pairwise contraction; a label survives while the output or a later operand
  // needs it.
  Operand acc = ops[0];
  for (size_t i = 1; i < ops.size(); ++i) {
    std::vector<int> keep = out_labels;
    for (size_t j = i + 1; j < ops.size(); ++j) keep.insert(keep.end(), ops[j].labels.begin(), ops[j].labels.end());
    acc = contract(acc, ops[i], keep, sizes, s);
  }
  acc = sum_unneeded(acc, out_labels, s);
  // Integer sums widen to int64; the result keeps the operands' dtype, as in NumPy.
  return astype(arrange(acc, out_labels, sizes, s), t, s);
}

}  // namespace alloy
