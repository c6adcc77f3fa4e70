// blur_images SIGMA OUT_DIR < file list: writes a Gaussian-blurred (standard deviation SIGMA
// pixels, reflected borders) grayscale PNG of every listed image to OUT_DIR/CLASS/NAME.png, CLASS
// being the image's folder name, and prints each image's variance of the 4-neighbour Laplacian
// (before blurring) as "PATH VARIANCE". With SIGMA 0 it only prints. Made to score models trained
// on this copy of fer2013's blurred train/ on a blurred PublicTest (docs/ACCURACY.md, fer-cnn
// section); not part of the CMake build. Needs libstb-dev:
//   g++ -O2 -std=c++17 bench/blur_images.cpp -lstb -o build/blur_images
//   ls ../shared/data/fer2013/test/{happy,sad}/* | build/blur_images 3 /tmp/fer2013-test-blur3
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

static double laplacian_variance(const unsigned char* p, int w, int h) {
  double sum = 0, sq = 0;
  int n = 0;
  for (int y = 1; y < h - 1; ++y)
    for (int x = 1; x < w - 1; ++x) {
      const double l = 4.0 * p[y * w + x] - p[(y - 1) * w + x] - p[(y + 1) * w + x] -
                       p[y * w + x - 1] - p[y * w + x + 1];
      sum += l, sq += l * l, ++n;
    }
  const double m = n ? sum / n : 0;
  return n ? sq / n - m * m : 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: blur_images SIGMA [OUT_DIR] < file list\n");
    return 2;
  }
  const double sigma = std::stod(argv[1]);
  const fs::path out = argc > 2 ? argv[2] : "";
  const int r = sigma > 0 ? static_cast<int>(std::ceil(3 * sigma)) : 0;
  std::vector<double> k(static_cast<size_t>(2 * r + 1), 1.0);
  double z = 0;
  for (int i = -r; i <= r; ++i)
    z += k[static_cast<size_t>(i + r)] = sigma > 0 ? std::exp(-i * i / (2 * sigma * sigma)) : 1;
  for (auto& v : k) v /= z;
  auto reflect = [](int i, int n) {
    if (i < 0) i = -i - 1;
    if (i >= n) i = 2 * n - i - 1;
    return std::clamp(i, 0, n - 1);
  };
  for (std::string line; std::getline(std::cin, line);) {
    const fs::path f = line;
    int w = 0, h = 0, c = 0;
    unsigned char* p = stbi_load(f.c_str(), &w, &h, &c, 1);
    if (!p) {
      std::fprintf(stderr, "cannot read %s\n", f.c_str());
      continue;
    }
    std::printf("%s %.2f\n", f.c_str(), laplacian_variance(p, w, h));
    if (sigma > 0 && !out.empty()) {
      const auto at = [w](int y, int x) { return static_cast<size_t>(y * w + x); };
      std::vector<double> t(static_cast<size_t>(w * h));
      std::vector<unsigned char> o(static_cast<size_t>(w * h));
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          double a = 0;
          for (int i = -r; i <= r; ++i)
            a += k[static_cast<size_t>(i + r)] * p[at(y, reflect(x + i, w))];
          t[at(y, x)] = a;
        }
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          double a = 0;
          for (int i = -r; i <= r; ++i)
            a += k[static_cast<size_t>(i + r)] * t[at(reflect(y + i, h), x)];
          o[at(y, x)] = static_cast<unsigned char>(std::clamp(std::lround(a), 0L, 255L));
        }
      const fs::path dir = out / f.parent_path().filename();
      fs::create_directories(dir);
      stbi_write_png((dir / f.stem()).string().append(".png").c_str(), w, h, 1, o.data(), w);
    }
    stbi_image_free(p);
  }
  return 0;
}
