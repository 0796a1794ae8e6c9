// The `search` policy of column rearrangement (engine/rearrangement/rearrange.h), internal
// to engine/rearrange*.cpp.
//
// Greedy local search on the solved effective-weight error (the objective of
// weff_squared_error), per row-block, starting from the layout as given and
// accepting a proposal only when it lowers the summed error of the tiles it
// changes, so the result is never worse than `none`. Round 1 proposes the
// `balance` arrangement of every row-block, round 2 `sort` and round 3
// `sort-reverse` of every tile; later rounds pair the tiles of each row-block
// at random and swap one column between the tiles of a pair or within each
// tile. The proposals of a round hold disjoint tiles, so they are solved in
// one batch and accepted independently. Random draws come from a generator
// per row-block seeded by (seed, layer, row-block), so the result depends on
// the number of rounds done, not on timing or threads.
#pragma once

#include <string>
#include <vector>

#include "engine/rearrangement/rearrange.h"

namespace sxb {

struct SearchOutcome {
  NetworkLayout layout;
  std::vector<double> objective_before, objective_after;  // per layer
  int rounds = 0;
  long long proposals = 0, accepted = 0;
  std::string stopped_by;  // "rounds" or "budget"
};

// `sources[l]` is the mapped layer of layout.layers[l].
SearchOutcome search_rearrangement(const std::vector<const MappedLayer*>& sources, const NetworkLayout& layout,
                                   const CrossbarConfig& config, const RearrangeOptions& options);

}  // namespace sxb
