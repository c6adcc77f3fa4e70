// Denormal floats flushed to zero while training on the Cpu device, as TensorFlow's CPU kernels
// do (its ScopedFlushDenormal): an operation on a denormal costs ~100 cycles, and Adam's second
// moments and vanishing gradients drift into that range.
#pragma once

#include "../../config.hpp"
#include "simd.hpp"

namespace moodnet::cpu {

// Sets FTZ (results) and DAZ (inputs) in the MXCSR of the calling thread and of every OpenMP
// thread of the current team size while alive; restores those two bits as they were on the
// calling thread when it ends. Elsewhere than x86 it does nothing.
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() {
#if MOODNET_SIMD_X86
    saved_ = __builtin_ia32_stmxcsr() & kBits;
    set(kBits);
#endif
  }
  ~ScopedFlushDenormals() {
#if MOODNET_SIMD_X86
    set(saved_);
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
#if MOODNET_SIMD_X86
  static constexpr unsigned kBits = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
  static void set(unsigned bits) {
    auto apply = [bits] { __builtin_ia32_ldmxcsr((__builtin_ia32_stmxcsr() & ~kBits) | bits); };
    apply();
    MOODNET_OMP(omp parallel)
    apply();
  }
  unsigned saved_ = 0;
#endif
};

}  // namespace moodnet::cpu
