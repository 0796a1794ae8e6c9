// Heat maps of a layer's tiles (engine/evaluation/tile_heatmap.h) as one SVG:
// the g+ and g- arrays of every drawn tile as they sit on the crossbar (tile
// rows down, tile columns across, the tiles in a grid of the layer's column
// blocks) on one shared conductance scale in microsiemens, and the NF of
// every column of both arrays on its own scale in percent, each with a colour
// legend. The pixels are embedded PNG images (one per panel), so large layers
// stay small files.
#pragma once

#include <string>

#include "engine/evaluation/tile_heatmap.h"

namespace sxb {

std::string heatmap_svg(const LayerHeatmap& h, const std::string& title);

}  // namespace sxb
