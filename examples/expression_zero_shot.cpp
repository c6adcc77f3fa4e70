// expression_zero_shot: face-api's pretrained 7-class expression net (zoo::face_expression_net)
// as a two-class classifier with no training: an image is called class A when the net gives A a
// higher probability than B.
//
//   expression_zero_shot DIR CLASS_A CLASS_B [--resize moodnet|tfjs] [--threads N]
//
// DIR holds CLASS_A/ and CLASS_B/ (e.g. fer2013/test with happy and neutral); both must be
// expression names of the net (neutral, happy, sad, angry, fearful, disgusted, surprised).
// Images are decoded as RGB and resized to 112x112 either as `moodnet train` does (--resize
// moodnet: TensorFlow's bilinear with half-pixel centres, rounded to 8 bits) or as face-api
// does in the browser (--resize tfjs: tf.image.resizeBilinear without half-pixel centres, in
// float). Needs the weights of scripts/fetch-pretrained.sh.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <moodnet/moodnet.hpp>
#include <moodnet/zoo_pretrained.hpp>
#include <string>

using namespace moodnet;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: expression_zero_shot DIR CLASS_A CLASS_B [--resize moodnet|tfjs] "
                 "[--threads N]\n";
    return 2;
  }
  std::string resize = "moodnet";
  for (int i = 4; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--resize") == 0) {
      resize = argv[i + 1];
    } else if (std::strcmp(argv[i], "--threads") == 0) {
      set_num_threads(std::atoi(argv[i + 1]));
    } else {
      std::cerr << "error: unknown option " << argv[i] << "\n";
      return 2;
    }
  }
  if (resize != "moodnet" && resize != "tfjs") {
    std::cerr << "error: --resize must be moodnet or tfjs, got '" << resize << "'\n";
    return 2;
  }
  try {
    const std::vector<std::string> names = zoo::face_expression_classes();
    int index[2];
    for (int k = 0; k < 2; ++k) {
      const auto it = std::find(names.begin(), names.end(), argv[2 + k]);
      MOODNET_CHECK(it != names.end(), "'", argv[2 + k],
                    "' is not one of the expression net's classes");
      index[k] = static_cast<int>(it - names.begin());
    }
    const Model<Cpu> net = zoo::face_expression_net<Cpu>();
    const ImageFolder folder = scan_image_folder(argv[1], {argv[2], argv[3]});
    const int64_t n = folder.size(), batch = 64, px = 112 * 112 * 3;
    int64_t correct = 0, per_class[2] = {0, 0}, right[2] = {0, 0}, top_is_pair = 0;
    double top_probability = 0;  // mean of the net's highest class probability
    Tensor<Cpu> x, p;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      const int64_t bn = std::min(batch, n - b0);
      x.resize({bn, 112, 112, 3});
      for (int64_t i = 0; i < bn; ++i) {
        const Image img = decode_image(folder.files[size_t(b0 + i)], ColorMode::rgb);
        float* dst = x.data() + i * px;
        if (resize == "tfjs") {
          zoo::resize_bilinear_tfjs(img, 112, 112, 255.0, dst);
        } else {
          const Image r = resize_bilinear(img, 112, 112);
          for (int64_t k = 0; k < px; ++k) dst[k] = float(r.pixels[size_t(k)]) * (1.0f / 255);
        }
      }
      net.predict(x, p, batch);
      for (int64_t i = 0; i < bn; ++i) {
        const int truth = folder.labels[size_t(b0 + i)];
        const int guess = p[i * 7 + index[1]] > p[i * 7 + index[0]] ? 1 : 0;
        ++per_class[truth];
        right[truth] += guess == truth;
        correct += guess == truth;
        const float* q = p.data() + i * 7;
        const auto top = std::max_element(q, q + 7) - q;
        top_probability += q[top];
        top_is_pair += top == index[0] || top == index[1];
      }
    }
    std::printf(
        "%s vs %s on %s (%lld images, resize %s): accuracy %.4f (%s %lld/%lld, %s "
        "%lld/%lld)\n",
        argv[2], argv[3], argv[1], static_cast<long long>(n), resize.c_str(),
        double(correct) / double(n), argv[2], static_cast<long long>(right[0]),
        static_cast<long long>(per_class[0]), argv[3], static_cast<long long>(right[1]),
        static_cast<long long>(per_class[1]));
    std::printf(
        "7-class view: the top class is %s or %s for %.4f of the images; mean top "
        "probability %.4f\n",
        argv[2], argv[3], double(top_is_pair) / double(n), top_probability / double(n));
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
