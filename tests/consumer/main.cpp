// Compiled by tests/consumer as an outside project would: one include, one target.
#include <iostream>
#include <moodnet/moodnet.hpp>
#include <string>

int main() {
  moodnet::Tensor<moodnet::Cpu> t(moodnet::Shape{2, 3});
  std::cout << "moodnet " << moodnet::version_string() << ", tensor size " << t.size() << "\n";
#if defined(MOODNET_CONSUMER_EXPECT_EIGEN)
  // C = A * B with A = [1 2; 3 4], B = I, on the generic ISA, which Eigen must then serve.
  moodnet::cpu::force_isa(moodnet::cpu::Isa::generic);
  const float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1};
  float c[4] = {};
  moodnet::cpu::sgemm(false, false, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
  const std::string backend = moodnet::cpu::gemm_backend();
  std::cout << "generic ISA GEMM: " << backend << "\n";
  if (backend != "eigen" || c[0] != 1 || c[1] != 2 || c[2] != 3 || c[3] != 4) return 1;
#endif
  return t.size() == 6 ? 0 : 1;
}
