// Writes the images of a stratified train/test split, decoded, resized and scaled exactly as
// `moodnet train` feeds them, to two raw files, so that another framework can train on the same
// tensors (bench/attempt3_libtorch.cpp; docs/ACCURACY.md, seed004-attempt3 section).
//
//   export_split DIR H W TEST_FRACTION SPLIT_SEED OUT_PREFIX
// writes OUT_PREFIX.train.bin and OUT_PREFIX.test.bin: int64 n, h, w, c; then n*h*w*c float32
// pixels in [0, 1] (NHWC); then n float32 labels (class index, classes in folder order).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <moodnet/moodnet.hpp>
#include <numeric>
#include <string>

using namespace moodnet;

namespace {

void write_part(const ImageFolder& folder, const std::vector<int64_t>& indices, int64_t h,
                int64_t w, const std::string& path) {
  ImageDataset ds(folder, indices, h, w, ColorMode::rgb, 1.0f / 255);
  for (const auto& s : ds.skipped())
    std::fprintf(stderr, "skipped %s: %s\n", s.path.string().c_str(), s.reason.c_str());
  std::vector<int64_t> all(static_cast<size_t>(ds.size()));
  std::iota(all.begin(), all.end(), 0);
  Tensor<Cpu> x, y;
  ds.load_batch(all, 0, x, y);
  const int64_t header[4] = {x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]};
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(header), sizeof header);
  f.write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  f.write(reinterpret_cast<const char*>(y.data()), std::streamsize(y.size() * sizeof(float)));
  if (!f) throw Error("export_split: could not write " + path);
  std::printf("%s: %lld images %lldx%lldx%lld\n", path.c_str(), static_cast<long long>(header[0]),
              static_cast<long long>(header[1]), static_cast<long long>(header[2]),
              static_cast<long long>(header[3]));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: export_split DIR H W TEST_FRACTION SPLIT_SEED OUT_PREFIX\n");
    return 2;
  }
  try {
    const ImageFolder folder = scan_image_folder(argv[1]);
    const Split split = stratified_split(folder.labels, 0.0, std::atof(argv[4]),
                                         std::strtoull(argv[5], nullptr, 10));
    const int64_t h = std::atoll(argv[2]), w = std::atoll(argv[3]);
    write_part(folder, split.train, h, w, std::string(argv[6]) + ".train.bin");
    write_part(folder, split.test, h, w, std::string(argv[6]) + ".test.bin");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "export_split: %s\n", e.what());
    return 1;
  }
  return 0;
}
