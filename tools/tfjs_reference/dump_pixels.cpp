// Decodes images with moodnet's decoder (stb_image, as the library and its tests do) and writes
// them for make_reference.js: per file, uint32 height, uint32 width (little-endian), then
// height * width * 3 RGB bytes (gray replicated). So the JavaScript model sees exactly the pixels
// moodnet sees (JavaScript JPEG decoders round differently).
//   g++ -std=c++20 -I../../include dump_pixels.cpp -lstb -o dump_pixels
//   ./dump_pixels OUT FILE...
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <moodnet/data/image.hpp>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dump_pixels OUT FILE...\n");
    return 2;
  }
  try {
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    for (int i = 2; i < argc; ++i) {
      const moodnet::Image img = moodnet::decode_image(argv[i], moodnet::ColorMode::rgb);
      const uint32_t hw[2] = {static_cast<uint32_t>(img.height), static_cast<uint32_t>(img.width)};
      out.write(reinterpret_cast<const char*>(hw), sizeof hw);
      out.write(reinterpret_cast<const char*>(img.pixels.data()),
                static_cast<std::streamsize>(img.pixels.size()));
    }
    if (!out) throw std::runtime_error(std::string("cannot write ") + argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dump_pixels: %s\n", e.what());
    return 1;
  }
  return 0;
}
