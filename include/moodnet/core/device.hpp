// Device tags and memory<D>. Layer code is written once against a device tag; the tag picks the
// scalar type, the allocator (memory<D>) and the kernel table (ops<D>, kernels/contract.hpp).
#pragma once

#include <cstddef>
#include <cstring>
#include <new>

namespace moodnet {

// The fast CPU device: float32, OpenMP, SIMD kernels.
struct Cpu {
  using value_type = float;
  static constexpr const char* name = "Cpu";
  static constexpr bool host_accessible = true;
};

// The oracle: float64 and naive loops that are obviously correct. Tests compare every fast
// kernel and every gradient against it.
struct Reference {
  using value_type = double;
  static constexpr const char* name = "Reference";
  static constexpr bool host_accessible = true;
};

template <class D>
concept Device = requires {
  typename D::value_type;
}
&&(D::host_accessible || !D::host_accessible);

// Allocation on a device. Host devices use 64-byte aligned heap memory (one cache line, one
// AVX-512 register).
template <class D>
struct memory {
  using T = typename D::value_type;
  static constexpr std::size_t alignment = 64;

  static T* allocate(std::size_t n) {
    if (n == 0) return nullptr;
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignment)));
  }
  static void deallocate(T* p) {
    if (p) ::operator delete(p, std::align_val_t(alignment));
  }
  static void copy(T* dst, const T* src, std::size_t n) {
    if (n) std::memcpy(dst, src, n * sizeof(T));
  }
};

}  // namespace moodnet
