// moodnet::cpu::sgemm (packed, per-ISA microkernels) against a double-precision naive GEMM: every
// ISA forced in turn, all transpose combinations, alpha/beta (beta 0 over NaN), odd and prime
// shapes, padded leading dimensions with guard cells that must stay untouched, and 1 vs 2 threads
// bitwise equal.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <moodnet/kernels/cpu/sgemm.hpp>
#include <moodnet/kernels/naive.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

using moodnet::cpu::Isa;
constexpr float kGuard = 1234.5f;
const float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr Isa kIsas[] = {Isa::generic, Isa::avx2, Isa::avx512};

// Restores auto-detection when a test ends, even on failure.
struct IsaGuard {
  ~IsaGuard() { moodnet::cpu::force_isa(std::nullopt); }
};

struct Case {
  bool ta, tb;
  int64_t M, N, K, pad_a, pad_b, pad_c;
  float alpha, beta;
  std::string str() const {
    return "ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " M=" + std::to_string(M) +
           " N=" + std::to_string(N) + " K=" + std::to_string(K) +
           " pads=" + std::to_string(pad_a) + "," + std::to_string(pad_b) + "," +
           std::to_string(pad_c) + " alpha=" + std::to_string(alpha) +
           " beta=" + std::to_string(beta);
  }
};

// Operands laid out exactly as sgemm sees them (stored rows x ld, last row cut to its width, so a
// read past the end leaves the allocation), plus C with guard cells in its padding and after it.
struct Problem {
  Case cs;
  int64_t lda, ldb, ldc;
  std::vector<float> a, b, c0;
  std::vector<double> ref;

  explicit Problem(const Case& c, std::mt19937& rng) : cs(c) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t a_rows = c.ta ? c.K : c.M, a_w = c.ta ? c.M : c.K;
    const int64_t b_rows = c.tb ? c.N : c.K, b_w = c.tb ? c.K : c.N;
    lda = a_w + c.pad_a;
    ldb = b_w + c.pad_b;
    ldc = c.N + c.pad_c;
    a.assign(static_cast<size_t>(a_rows > 0 ? (a_rows - 1) * lda + a_w : 0), kNaN);
    b.assign(static_cast<size_t>(b_rows > 0 ? (b_rows - 1) * ldb + b_w : 0), kNaN);
    for (int64_t r = 0; r < a_rows; ++r)
      for (int64_t j = 0; j < a_w; ++j) a[r * lda + j] = u(rng);
    for (int64_t r = 0; r < b_rows; ++r)
      for (int64_t j = 0; j < b_w; ++j) b[r * ldb + j] = u(rng);
    c0.assign(static_cast<size_t>(c.M * ldc + 16), kGuard);
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) c0[i * ldc + j] = c.beta == 0.0f ? kNaN : u(rng);
    // Double reference; NaN padding in A/B is never read by a correct GEMM either.
    std::vector<double> da(a.begin(), a.end()), db(b.begin(), b.end());
    ref.assign(c0.begin(), c0.end());
    moodnet::naive::gemm<double>(c.ta, c.tb, c.M, c.N, c.K, c.alpha, da.data(), lda, db.data(), ldb,
                                 c.beta, ref.data(), ldc);
  }

  std::vector<float> run(bool parallel = true) const {
    std::vector<float> c = c0;
    moodnet::cpu::sgemm(cs.ta, cs.tb, cs.M, cs.N, cs.K, cs.alpha, a.data(), lda, b.data(), ldb,
                        cs.beta, c.data(), ldc, parallel);
    return c;
  }

  void check(const std::vector<float>& c) const {
    double err = 0, norm = 0;
    bool finite = true, guards = true;
    for (int64_t i = 0; i < static_cast<int64_t>(c.size()); ++i) {
      const bool inside = i < cs.M * ldc && i % ldc < cs.N;
      if (!inside) {
        guards = guards && c[i] == kGuard;
        continue;
      }
      finite = finite && std::isfinite(c[i]);
      err += (c[i] - ref[i]) * (c[i] - ref[i]);
      norm += ref[i] * ref[i];
    }
    INFO(cs.str());
    CHECK(finite);
    CHECK(guards);
    CHECK(std::sqrt(err) <= 1e-4 * std::sqrt(norm) + 1e-6);
  }
};

Case random_case(std::mt19937& rng, int64_t max_dim) {
  static const float kAlphas[] = {1.0f, -0.5f, 2.25f};
  static const float kBetas[] = {0.0f, 1.0f, -1.5f, 0.5f};
  auto dim = [&](int64_t hi) {
    static const int64_t kSmall[] = {1, 2, 3, 5, 7, 13, 14, 15, 16, 17, 31, 32, 33, 97, 127};
    if (rng() % 3 == 0) return kSmall[rng() % (sizeof(kSmall) / sizeof(kSmall[0]))];
    return static_cast<int64_t>(1 + rng() % hi);
  };
  Case c{};
  c.ta = rng() % 2;
  c.tb = rng() % 2;
  c.M = dim(max_dim);
  c.N = dim(max_dim);
  c.K = dim(max_dim);
  c.pad_a = rng() % 2 ? 0 : 1 + rng() % 9;
  c.pad_b = rng() % 2 ? 0 : 1 + rng() % 9;
  c.pad_c = rng() % 2 ? 0 : 1 + rng() % 9;
  c.alpha = kAlphas[rng() % 3];
  c.beta = kBetas[rng() % 4];
  return c;
}

std::vector<Problem> make_problems() {
  std::mt19937 rng(20240607);
  std::vector<Problem> ps;
  // Every transpose combination with every beta kind on small odd shapes.
  for (int t = 0; t < 4; ++t)
    for (float beta : {0.0f, 1.0f, -0.75f})
      ps.emplace_back(Case{t % 2 == 1, t / 2 == 1, 7, 13, 5, 0, 3, 2, 1.5f, beta}, rng);
  for (int i = 0; i < 210; ++i) ps.emplace_back(random_case(rng, 300), rng);
  // Larger than one cache block in every dimension (MC, KC, NC edges).
  ps.emplace_back(Case{false, false, 515, 257, 700, 3, 0, 5, 1.0f, 0.0f}, rng);
  ps.emplace_back(Case{true, true, 389, 4099, 61, 0, 2, 1, -1.0f, 0.5f}, rng);
  ps.emplace_back(Case{true, false, 301, 97, 1031, 1, 1, 0, 0.5f, 1.0f}, rng);
  // Transposing packs (rows of A, columns of a transposed B) past the first KC block.
  ps.emplace_back(Case{false, true, 45, 50, 1100, 3, 5, 0, 1.0f, 0.0f}, rng);
  return ps;
}

const std::vector<Problem>& problems() {
  static const std::vector<Problem> ps = make_problems();
  return ps;
}

}  // namespace

TEST_CASE("sgemm: isa reporting and forcing") {
  IsaGuard guard;
  const Isa best = moodnet::cpu::active_isa();
  INFO("active " << moodnet::cpu::to_string(best));
  for (Isa isa : kIsas) {
    CHECK(std::string(moodnet::cpu::to_string(isa)).size() > 0);
    if (moodnet::cpu::detail::isa_supported(isa)) {
      moodnet::cpu::force_isa(isa);
      CHECK(moodnet::cpu::active_isa() == isa);
    } else {
      CHECK_THROWS_AS(moodnet::cpu::force_isa(isa), moodnet::Error);
    }
  }
  moodnet::cpu::force_isa(std::nullopt);
  CHECK(moodnet::cpu::active_isa() == best);
  CHECK(moodnet::cpu::detail::isa_supported(Isa::generic));
  // Built with MOODNET_WITH_EIGEN (the moodnet_eigen_tests binary), the generic ISA's GEMMs
  // are Eigen's, so every generic case below checks the Eigen path.
  moodnet::cpu::force_isa(Isa::generic);
  CHECK(std::string(moodnet::cpu::gemm_backend()) == (MOODNET_SGEMM_EIGEN ? "eigen" : "generic"));
}

TEST_CASE("sgemm: matches a double reference for every ISA, shape, transpose and beta") {
  IsaGuard guard;
  for (Isa isa : kIsas) {
    if (!moodnet::cpu::detail::isa_supported(isa)) {
      WARN("skipping unsupported ISA " << moodnet::cpu::to_string(isa));
      continue;
    }
    moodnet::cpu::force_isa(isa);
    INFO("isa " << moodnet::cpu::to_string(isa));
    for (const Problem& p : problems()) p.check(p.run());
  }
}

TEST_CASE("sgemm: empty and degenerate shapes") {
  IsaGuard guard;
  for (Isa isa : kIsas) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    std::mt19937 rng(7);
    for (int64_t M : {0, 1, 2})
      for (int64_t N : {0, 1, 3})
        for (int64_t K : {0, 1})
          for (float beta : {0.0f, 2.0f}) {
            Problem p(Case{false, true, M, N, K, 1, 0, 2, 1.0f, beta}, rng);
            p.check(p.run());
          }
    // alpha == 0 must not read A or B (NaN there) and scales C by beta.
    Problem p(Case{false, false, 5, 6, 7, 0, 0, 1, 0.0f, 0.5f}, rng);
    std::fill(p.a.begin(), p.a.end(), kNaN);
    p.check(p.run());
  }
}

#ifdef _OPENMP
TEST_CASE("sgemm: 1 and 2 threads give bitwise identical results") {
  IsaGuard guard;
  const int saved = omp_get_max_threads();
  std::mt19937 rng(99);
  std::vector<Problem> ps;
  ps.emplace_back(Case{false, false, 515, 257, 700, 3, 0, 5, 1.0f, 0.0f}, rng);
  ps.emplace_back(Case{true, true, 131, 409, 300, 0, 1, 0, -1.0f, 0.5f}, rng);
  ps.emplace_back(Case{false, true, 13, 1999, 257, 0, 0, 0, 1.0f, 1.0f}, rng);
  for (Isa isa : kIsas) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    for (const Problem& p : ps) {
      INFO(moodnet::cpu::to_string(isa) << " " << p.cs.str());
      omp_set_num_threads(1);
      const std::vector<float> one = p.run();
      omp_set_num_threads(2);
      const std::vector<float> two = p.run();
      const std::vector<float> serial = p.run(false);
      CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(one.data(), serial.data(), one.size() * sizeof(float)) == 0);
      p.check(two);
    }
  }
  omp_set_num_threads(saved);
}
#endif
