// Indexing ops (being written): placeholder so the library links.
#include "alloy/core/ops_util.h"

namespace alloy {
array scatter_add(const array& a, const std::vector<array>&, const array&, const Axes&, SD) {
  detail::fail("scatter_add", "is not supported yet");
  return a;
}
}  // namespace alloy
