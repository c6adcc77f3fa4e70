// Compiled by tests/consumer as an outside project would: one include, one target.
#include <iostream>
#include <moodnet/moodnet.hpp>

int main() {
  moodnet::Tensor<moodnet::Cpu> t(moodnet::Shape{2, 3});
  std::cout << "moodnet " << moodnet::version_string() << ", tensor size " << t.size() << "\n";
  return t.size() == 6 ? 0 : 1;
}
