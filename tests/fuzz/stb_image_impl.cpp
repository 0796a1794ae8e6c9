// Debian's stb_image decoder compiled with the fuzz targets' instrumentation
// (coverage, ASan, UBSan); its symbols take precedence over libstb.so's.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
