// Debian's stb_image decoder compiled with the fuzz targets' instrumentation
// (coverage, ASan, UBSan); its symbols take precedence over libstb.so's. Image
// folders hand stb only PNG files (JPEG goes to libjpeg-turbo), so only its
// PNG decoder is compiled.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
