// libFuzzer harness for the decode-and-resize entry point (moodnet::decode_image_bytes in every
// colour mode, then resize_image to a training size: bilinear, nearest with
// crop_to_aspect_ratio, area with pad_to_aspect_ratio, plain area). stb_image is compiled into this
// program, instrumented like the rest, so the sanitizers see inside the decoder too; the product
// itself links Debian's prebuilt libstb. Build and run: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <moodnet/data/image.hpp>
#include <span>

// The implementation, once, after moodnet's header has included the declarations.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  using moodnet::Interpolation;
  for (moodnet::ColorMode mode :
       {moodnet::ColorMode::rgb, moodnet::ColorMode::grayscale, moodnet::ColorMode::rgba}) {
    try {
      // A 4-megapixel limit keeps one input's memory small; the default is 64 megapixels.
      const moodnet::Image img = moodnet::decode_image_bytes(bytes, mode, 4'000'000, "fuzz");
      // Every resize mode, stretched, centre-cropped and letterboxed to the target's aspect.
      for (const moodnet::ResizeOptions& opt :
           {moodnet::ResizeOptions{Interpolation::bilinear, false, false},
            moodnet::ResizeOptions{Interpolation::nearest, true, false},
            moodnet::ResizeOptions{Interpolation::area, false, true},
            moodnet::ResizeOptions{Interpolation::area, false, false}}) {
        const moodnet::Image small = moodnet::resize_image(img, 37, 23, opt);
        if (small.pixels.size() != size_t(37 * 23 * small.channels)) __builtin_trap();
      }
    } catch (const moodnet::Error&) {
      // A clear error is the expected outcome for bad input.
    }
  }
  return 0;
}
