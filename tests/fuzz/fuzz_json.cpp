// libFuzzer harness for moodnet::Value::parse, the reader of every model file's JSON header, and
// for what a model file does with a parsed header (model_from_architecture). Properties checked:
// no crash, leak or sanitizer report on any input; whatever parses dumps to text that parses
// back to an equal value and dumps to the same text again. Build and run: scripts/fuzz.sh S json.
#include <cstddef>
#include <cstdint>
#include <moodnet/moodnet.hpp>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  moodnet::Value v;
  try {
    v = moodnet::Value::parse(text);
  } catch (const moodnet::Error&) {
    return 0;
  }
  const std::string once = v.dump();
  const moodnet::Value back = moodnet::Value::parse(once);
  if (!(back == v) || back.dump() != once) __builtin_trap();
  try {  // a header's architecture: every bad field must be an Error, never a crash
    const moodnet::Value& arch = v.contains("architecture") ? v["architecture"] : v;
    // As load_model_file() does: no more weights than the file could hold (here 1 MiB worth).
    (void)moodnet::model_from_architecture<moodnet::Reference>(arch, int64_t(1) << 18);
  } catch (const moodnet::Error&) {
  }
  return 0;
}
