// ops<Cpu> (float) against ops<Reference> (double) on many random shapes and on the seed models'
// exact shapes; canaries around every output; accumulate semantics of *_backward_params; 1 vs 2
// threads bitwise equal; and the Keras padding arithmetic (window_1d) every kernel relies on.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <moodnet/moodnet.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using moodnet::Activation;
using moodnet::ConvGeometry;
using moodnet::Padding;
using moodnet::PoolGeometry;
using CpuOps = moodnet::ops<moodnet::Cpu>;
using RefOps = moodnet::ops<moodnet::Reference>;
using F = std::vector<float>;
using Dv = std::vector<double>;

constexpr double kTol = 1e-4;  // float against double
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// A small deterministic generator for test configurations.
struct Rng {
  uint64_t seed, i = 0;
  explicit Rng(uint64_t s) : seed(s) {}
  uint64_t bits() { return moodnet::random_bits(seed, 0xc0ffee, i++); }
  int64_t uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(bits() % static_cast<uint64_t>(hi - lo + 1));
  }
  template <class T>
  T pick(std::initializer_list<T> v) {
    return *(v.begin() + uniform(0, static_cast<int64_t>(v.size()) - 1));
  }
  bool coin() { return bits() & 1; }
};

F random_floats(int64_t n, uint64_t seed, double lo = -1, double hi = 1) {
  F v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = static_cast<float>(
        lo + (hi - lo) * moodnet::random_uniform(seed, 0xf10a7, static_cast<uint64_t>(i)));
  return v;
}
Dv to_double(const F& v) { return Dv(v.begin(), v.end()); }

// The reference conv (bias optional) followed by `act` (linear, ReLU or ReLU6), in double.
Dv reference_conv_act(const ConvGeometry& g, const Dv& x, const Dv& w, const double* b,
                      Activation act) {
  Dv y(static_cast<size_t>(g.n * g.oh * g.ow * g.f));
  RefOps::conv2d_forward(g, x.data(), w.data(), b, y.data());
  if (act != Activation::linear)
    for (double& o : y) o = act == Activation::relu6 ? std::clamp(o, 0.0, 6.0) : std::max(o, 0.0);
  return y;
}

// An output buffer with guard elements before and after, all holding a sentinel: a kernel that
// writes out of bounds changes them.
class Guarded {
 public:
  static constexpr int64_t guard = 16;
  static constexpr float sentinel = -1.2345e31f;
  explicit Guarded(int64_t n, float init = kNaN)
      : buf_(static_cast<size_t>(n + 2 * guard), sentinel), n_(n) {
    std::fill(data(), data() + n, init);
  }
  Guarded(const F& init) : Guarded(static_cast<int64_t>(init.size())) {  // NOLINT
    std::copy(init.begin(), init.end(), data());
  }
  float* data() { return buf_.data() + guard; }
  const float* data() const { return buf_.data() + guard; }
  int64_t size() const { return n_; }
  bool intact() const {
    for (int64_t i = 0; i < guard; ++i)
      if (buf_[static_cast<size_t>(i)] != sentinel ||
          buf_[static_cast<size_t>(n_ + guard + i)] != sentinel)
        return false;
    return true;
  }
  F values() const { return F(data(), data() + n_); }

 private:
  F buf_;
  int64_t n_;
};

// Element errors |a - b| / (|b| + rms(b)) (NaN counts as infinite): per element relative, with an
// absolute floor at the magnitude of the whole result, so cancellation does not fail the check.
struct Diff {
  double max_err = 0;
  int64_t worst = -1;
  double a = 0, b = 0;
};
Diff diff(const float* a, const double* b, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += b[i] * b[i];
  const double rms = n ? std::sqrt(ss / double(n)) : 0;
  Diff d;
  for (int64_t i = 0; i < n; ++i) {
    double e = std::fabs(double(a[i]) - b[i]) / (std::fabs(b[i]) + rms + 1e-30);
    if (!(e == e)) e = INFINITY;
    if (e > d.max_err || d.worst < 0) d = {e, i, double(a[i]), b[i]};
  }
  return d;
}

#define REQUIRE_CLOSE(got, want, count, what)                                            \
  do {                                                                                   \
    const Diff d_ = diff((got), (want), (count));                                        \
    INFO(what << ": max error " << d_.max_err << " at #" << d_.worst << " (cpu " << d_.a \
              << ", reference " << d_.b << ")");                                         \
    REQUIRE(d_.max_err <= kTol);                                                         \
  } while (0)

// The random sweeps run on one thread: their shapes are tiny, and on a loaded machine thousands
// of tiny parallel regions crawl. Threads cannot change results (checked bitwise below), and the
// seed-shape cases exercise the parallel paths against the reference.
class OneThread {
 public:
  OneThread() { moodnet::set_num_threads(1); }
  ~OneThread() { moodnet::set_num_threads(saved_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int saved_ = moodnet::num_threads();
};

std::string describe(const ConvGeometry& g, bool depthwise) {
  std::ostringstream os;
  os << (depthwise ? "depthwise " : "conv ") << "x(" << g.n << "," << g.h << "," << g.w << ","
     << g.c << ") k" << g.kh << "x" << g.kw << " s" << g.sh << "x" << g.sw << " pad " << g.pad_top
     << "," << g.pad_left << " -> y(" << g.oh << "," << g.ow << "," << g.f << ")";
  return os.str();
}

// All three ops of a convolution or depthwise convolution, Cpu against Reference.
void check_conv(const ConvGeometry& g, bool depthwise, bool bias, bool bias_grad, uint64_t seed) {
  INFO(describe(g, depthwise) << (bias ? " bias" : "") << (bias_grad ? " db" : ""));
  const int64_t xs = g.n * g.h * g.w * g.c, ys = g.n * g.oh * g.ow * g.f;
  const int64_t ws = g.kh * g.kw * (depthwise ? g.f : g.c * g.f);
  const F x = random_floats(xs, seed), w = random_floats(ws, seed + 1),
          b = random_floats(g.f, seed + 2);
  const F dy = random_floats(ys, seed + 3), dw0 = random_floats(ws, seed + 4),
          db0 = random_floats(g.f, seed + 5);
  const Dv xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);

  // forward
  Guarded y(ys);
  Dv yr(static_cast<size_t>(ys));
  if (depthwise) {
    CpuOps::depthwise_conv2d_forward(g, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
    RefOps::depthwise_conv2d_forward(g, xd.data(), wd.data(), bias ? bd.data() : nullptr,
                                     yr.data());
  } else {
    CpuOps::conv2d_forward(g, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
    RefOps::conv2d_forward(g, xd.data(), wd.data(), bias ? bd.data() : nullptr, yr.data());
  }
  REQUIRE(y.intact());
  REQUIRE_CLOSE(y.data(), yr.data(), ys, "forward");

  // backward_data (dx starts as NaN: it must be overwritten)
  Guarded dx(xs);
  Dv dxr(static_cast<size_t>(xs));
  if (depthwise) {
    CpuOps::depthwise_conv2d_backward_data(g, dy.data(), w.data(), dx.data());
    RefOps::depthwise_conv2d_backward_data(g, dyd.data(), wd.data(), dxr.data());
  } else {
    CpuOps::conv2d_backward_data(g, dy.data(), w.data(), dx.data());
    RefOps::conv2d_backward_data(g, dyd.data(), wd.data(), dxr.data());
  }
  REQUIRE(dx.intact());
  REQUIRE_CLOSE(dx.data(), dxr.data(), xs, "backward_data");

  // backward_params accumulates onto non-zero gradients
  Guarded dw(dw0), db(db0);
  Dv dwr = to_double(dw0), dbr = to_double(db0);
  if (depthwise) {
    CpuOps::depthwise_conv2d_backward_params(g, x.data(), dy.data(), dw.data(),
                                             bias_grad ? db.data() : nullptr);
    RefOps::depthwise_conv2d_backward_params(g, xd.data(), dyd.data(), dwr.data(),
                                             bias_grad ? dbr.data() : nullptr);
  } else {
    CpuOps::conv2d_backward_params(g, x.data(), dy.data(), dw.data(),
                                   bias_grad ? db.data() : nullptr);
    RefOps::conv2d_backward_params(g, xd.data(), dyd.data(), dwr.data(),
                                   bias_grad ? dbr.data() : nullptr);
  }
  REQUIRE(dw.intact());
  REQUIRE(db.intact());
  REQUIRE_CLOSE(dw.data(), dwr.data(), ws, "backward_params dw");
  REQUIRE_CLOSE(db.data(), dbr.data(), g.f, "backward_params db");
  if (!bias_grad) REQUIRE(db.values() == db0);
  // ...and really accumulates: the same call on zeros gives the difference.
  Guarded dwz(ws, 0.0f);
  if (depthwise)
    CpuOps::depthwise_conv2d_backward_params(g, x.data(), dy.data(), dwz.data(), nullptr);
  else
    CpuOps::conv2d_backward_params(g, x.data(), dy.data(), dwz.data(), nullptr);
  Dv expect(static_cast<size_t>(ws));
  for (int64_t i = 0; i < ws; ++i)
    expect[static_cast<size_t>(i)] = double(dw.data()[i]) - double(dw0[static_cast<size_t>(i)]);
  REQUIRE_CLOSE(dwz.data(), expect.data(), ws, "backward_params accumulates");
}

// A random convolution geometry with small spatial sizes (the double reference is naive).
ConvGeometry random_conv(Rng& r, bool depthwise, int variant) {
  const int64_t n = r.pick<int64_t>({1, 1, 2, 3});
  const int64_t h = r.pick<int64_t>({1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13});
  // Widths past 2 x 14 + 5 reach the fast kernels' interior (no padding) tiles.
  const int64_t w = r.pick<int64_t>({1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 19, 23, 31, 37});
  const int64_t c = r.pick<int64_t>({1, 2, 3, 3, 4, 5, 7, 8, 11, 16, 24});
  int64_t kh = r.pick<int64_t>({1, 2, 3, 3, 5}), kw = r.coin() ? kh : r.pick<int64_t>({1, 2, 3, 5});
  int64_t sh = r.pick<int64_t>({1, 1, 2, 3}), sw = r.coin() ? sh : r.pick<int64_t>({1, 2});
  Padding pad = r.coin() ? Padding::same : Padding::valid;
  if (variant == 0) {  // the pointwise (plain GEMM) path
    kh = kw = 1;
    sh = sw = 1;
  } else if (variant == 1) {  // 1x1 with stride (the residual shortcut of seed003)
    kh = kw = 1;
    sh = sw = 2;
    pad = Padding::same;
  }
  if (pad == Padding::valid && (kh > h || kw > w)) pad = Padding::same;
  const int64_t f = depthwise ? c * r.pick<int64_t>({1, 1, 2, 3})
                              : r.pick<int64_t>({1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33, 40});
  return ConvGeometry::make(n, h, w, c, kh, kw, sh, sw, f, pad);
}

// A max pool over g's output after a conv ending in `act`, for the conv + pool fusion tests:
// pool size 1, 2 or 3, 'valid' or 'same' (none when 'valid' windows do not fit the output).
struct PoolAfterConv {
  PoolGeometry p;
  Activation act;
  std::string text;
};
std::optional<PoolAfterConv> random_pool_after(Rng& r, const ConvGeometry& g) {
  const int64_t ps = r.pick<int64_t>({1, 2, 2, 3});
  const Padding pad = r.coin() ? Padding::valid : Padding::same;
  if (pad == Padding::valid && (ps > g.oh || ps > g.ow)) return std::nullopt;
  PoolAfterConv d{PoolGeometry::make(g.n, g.oh, g.ow, g.f, ps, ps, ps, ps, pad),
                  r.pick<Activation>({Activation::linear, Activation::relu, Activation::relu6}),
                  {}};
  d.text = " pool " + std::to_string(ps) + " " + moodnet::to_string(pad) + " act " +
           moodnet::to_string(d.act);
  return d;
}

}  // namespace

TEST_CASE(
    "kernels: depthwise 3x3 fast paths (whole 16-channel blocks) and their borders, every ISA") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
    for (bool pair : {false, true}) {  // AVX-512's forward: one or two output rows a tile
      if (!moodnet::cpu::detail::isa_supported(isa) || (pair && isa != Isa::avx512)) continue;
      moodnet::cpu::force_isa(isa);
      moodnet::cpu::detail::force_dw_pair_rows(pair);
      INFO("isa " << moodnet::cpu::to_string(isa) << (pair ? ", row pairs" : ""));
      uint64_t seed = 12000;
      // Sizes with no interior (1, 2), a thin one (3, 4) and wide ones past the tiles: output
      // rows of 7, 8, 11, 13, 15, 16, 21 pixels take the 7- or 8-pixel AVX-512 tile, 4 AVX2.
      for (int64_t c : {16, 32, 48})
        for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 2},
                            {2, 3},
                            {3, 4},
                            {5, 13},
                            {7, 21},
                            {6, 16},
                            {4, 30}})
          for (auto [sh, sw] : {std::pair<int64_t, int64_t>{1, 1}, {2, 2}, {1, 2}, {2, 1}})
            for (Padding pad : {Padding::same, Padding::valid}) {
              if (pad == Padding::valid && (h < 3 || w < 3)) continue;
              const ConvGeometry g = ConvGeometry::make(2, h, w, c, 3, 3, sh, sw, c, pad);
              check_conv(g, true, seed % 2 == 0, seed % 3 != 0, seed);
              ++seed;
            }
    }
  moodnet::cpu::force_isa(std::nullopt);
  moodnet::cpu::detail::force_dw_pair_rows(std::nullopt);
}

TEST_CASE("kernels: window_1d follows Keras/TensorFlow padding") {
  using moodnet::window_1d;
  struct Case {
    int64_t in, k, s;
    Padding p;
    int64_t out, before, after;
  };
  const std::vector<Case> cases = {
      {150, 2, 2, Padding::same, 75, 0, 0},   {37, 2, 2, Padding::same, 19, 0, 1},
      {56, 3, 2, Padding::same, 28, 0, 1},    {28, 3, 2, Padding::same, 14, 0, 1},
      {7, 3, 2, Padding::same, 4, 1, 1},      {4, 3, 2, Padding::same, 2, 0, 1},
      {2, 3, 2, Padding::same, 1, 0, 1},      {150, 3, 1, Padding::same, 150, 1, 1},
      {6, 4, 1, Padding::same, 6, 1, 2},      {1, 3, 1, Padding::same, 1, 1, 1},
      {2, 5, 3, Padding::same, 1, 1, 2},      {5, 1, 2, Padding::same, 3, 0, 0},
      {74, 2, 2, Padding::same, 37, 0, 0},    {19, 2, 2, Padding::same, 10, 0, 1},
      {150, 3, 1, Padding::valid, 148, 0, 0}, {148, 2, 2, Padding::valid, 74, 0, 0},
      {17, 2, 2, Padding::valid, 8, 0, 0},    {7, 3, 2, Padding::valid, 3, 0, 0},
      {8, 3, 2, Padding::valid, 3, 0, 0},     {3, 3, 1, Padding::valid, 1, 0, 0},
  };
  for (const Case& c : cases) {
    INFO("in " << c.in << " k " << c.k << " s " << c.s << " " << moodnet::to_string(c.p));
    const moodnet::Window1D w = window_1d(c.in, c.k, c.s, c.p);
    CHECK(w.out == c.out);
    CHECK(w.pad_before == c.before);
    CHECK(w.pad_after == c.after);
  }
  // Against TensorFlow's documented formulas (written differently on purpose):
  // same: out = ceil(in / s), pad = max(k - (in % s == 0 ? s : in % s), 0), before = pad / 2;
  // valid: out = ceil((in - k + 1) / s).
  for (int64_t in = 1; in <= 40; ++in)
    for (int64_t k = 1; k <= 7; ++k)
      for (int64_t s = 1; s <= 4; ++s) {
        const moodnet::Window1D w = window_1d(in, k, s, Padding::same);
        const int64_t pad = std::max<int64_t>(k - (in % s == 0 ? s : in % s), 0);
        REQUIRE(w.out == (in + s - 1) / s);
        REQUIRE(w.pad_before == pad / 2);
        REQUIRE(w.pad_after == pad - pad / 2);
        if (in >= k) {
          const moodnet::Window1D v = window_1d(in, k, s, Padding::valid);
          REQUIRE(v.out == (in - k + 1 + s - 1) / s);
          REQUIRE(v.pad_before + v.pad_after == 0);
        }
      }
  CHECK_THROWS_AS(window_1d(2, 3, 1, Padding::valid), moodnet::Error);
  CHECK_THROWS_AS(window_1d(5, 0, 1, Padding::same), moodnet::Error);
  CHECK_THROWS_AS(window_1d(5, 3, 0, Padding::valid), moodnet::Error);
  CHECK_THROWS_AS(window_1d(0, 1, 1, Padding::same), moodnet::Error);
}

TEST_CASE("kernels: window_1d chains give the seed models' Flatten sizes") {
  using moodnet::window_1d;
  auto conv_v = [](int64_t s) { return window_1d(s, 3, 1, Padding::valid).out; };
  auto conv_s = [](int64_t s) { return window_1d(s, 3, 1, Padding::same).out; };
  auto mp = [](int64_t s) { return window_1d(s, 2, 2, Padding::valid).out; };
  auto mps = [](int64_t s) { return window_1d(s, 2, 2, Padding::same).out; };
  // seed000: 4 x (C valid, MP) from 150 -> 7x7x128 = 6272
  int64_t s = 150;
  for (int i = 0; i < 4; ++i) s = mp(conv_v(s));
  CHECK(s * s * 128 == 6272);
  // seed001: C same, MP, C valid, MP, C valid, MP from 256 -> 30x30x16 = 14400
  s = mp(conv_v(mp(conv_v(mp(conv_s(256))))));
  CHECK(s * s * 16 == 14400);
  // seed002: 4 x (C valid, MP) from 256 -> 14x14x32 = 6272
  s = 256;
  for (int i = 0; i < 4; ++i) s = mp(conv_v(s));
  CHECK(s * s * 32 == 6272);
  // seed004-initial: C valid, MPs, 2 x (C same, MPs) from 150 -> 19x19x16 = 5776
  s = mps(conv_s(mps(conv_s(mps(conv_v(150))))));
  CHECK(s * s * 16 == 5776);
  // seed004-attempt3: one more (C same, MPs) -> 10x10x32 = 3200
  CHECK(mps(conv_s(s)) * mps(conv_s(s)) * 32 == 3200);
  // seed004-attempt5: C valid, MPs, C same, MPs -> 37x37x48 = 65712
  s = mps(conv_s(mps(conv_v(150))));
  CHECK(s * s * 48 == 65712);
  // seed003: 56 -> conv 3x3 stride 2 same -> 28, then four MaxPool 3x3 stride 2 same and four
  // 1x1 stride 2 same shortcuts that must agree: 14, 7, 4, 2.
  s = window_1d(56, 3, 2, Padding::same).out;
  CHECK(s == 28);
  for (int64_t expect : {14, 7, 4, 2}) {
    const int64_t pooled = window_1d(s, 3, 2, Padding::same).out;
    CHECK(pooled == expect);
    CHECK(window_1d(s, 1, 2, Padding::same).out == pooled);
    s = pooled;
  }
}

TEST_CASE(
    "kernels: gemm matches the reference for every transpose, alpha/beta, odd sizes, padded ld") {
  const OneThread one_thread;
  Rng r(1);
  int count = 0;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int rep = 0; rep < 30; ++rep) {
        const int64_t M = r.pick<int64_t>({1, 2, 3, 5, 7, 13, 16, 31, 37, 64, 67, 97});
        const int64_t N = r.pick<int64_t>({1, 2, 5, 8, 16, 17, 23, 33, 61, 97, 128});
        const int64_t K = r.pick<int64_t>({1, 2, 3, 11, 29, 64, 101, 130, 257});
        const float alpha = r.pick<float>({1.0f, -0.5f, 2.5f});
        const float beta = r.pick<float>({0.0f, 1.0f, 0.75f, -1.0f});
        const int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K,
                      bcols = tb ? K : N;
        const int64_t lda = acols + r.pick<int64_t>({0, 0, 1, 3, 8}),
                      ldb = bcols + r.pick<int64_t>({0, 0, 2, 5});
        const int64_t ldc = N + r.pick<int64_t>({0, 0, 1, 4});
        INFO("ta " << ta << " tb " << tb << " M " << M << " N " << N << " K " << K << " alpha "
                   << alpha << " beta " << beta << " lda " << lda << " ldb " << ldb << " ldc "
                   << ldc);
        const uint64_t seed = 1000 + static_cast<uint64_t>(count++) * 7;
        const F A = random_floats(arows * lda, seed), B = random_floats(brows * ldb, seed + 1);
        F c0 = random_floats(M * ldc, seed + 2);
        if (beta == 0.0f)  // beta == 0 ignores C: NaN must not leak through
          for (int64_t i = 0; i < M; ++i)
            std::fill(c0.begin() + i * ldc, c0.begin() + i * ldc + N, kNaN);
        Guarded C(c0);
        Dv Cr = to_double(c0);
        CpuOps::gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        const Dv Ad = to_double(A), Bd = to_double(B);
        RefOps::gemm(ta, tb, M, N, K, alpha, Ad.data(), lda, Bd.data(), ldb, beta, Cr.data(), ldc);
        REQUIRE(C.intact());
        Dv want;
        F got;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const float v = C.data()[i * ldc + j];
            if (j < N) {
              got.push_back(v);
              want.push_back(Cr[static_cast<size_t>(i * ldc + j)]);
            } else {
              REQUIRE(std::memcmp(&v, &c0[static_cast<size_t>(i * ldc + j)], sizeof v) ==
                      0);  // padding untouched
            }
          }
        REQUIRE_CLOSE(got.data(), want.data(), M * N, "C");
      }
}

TEST_CASE(
    "kernels: conv2d and depthwise, >= 200 random configurations against the reference, every "
    "ISA") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) {
      WARN("ISA " << moodnet::cpu::to_string(isa) << " not supported here: not tested");
      continue;
    }
    moodnet::cpu::force_isa(isa);
    INFO("isa " << moodnet::cpu::to_string(isa));
    Rng r(2);
    int pointwise = 0;
    for (int i = 0; i < 160; ++i) {
      const ConvGeometry g = random_conv(r, false, i % 8);
      if (moodnet::cpu::is_pointwise(g)) ++pointwise;
      check_conv(g, false, i % 3 != 0, i % 4 != 1, 5000 + uint64_t(i) * 11);
    }
    CHECK(pointwise >= 20);
    for (int i = 0; i < 80; ++i)
      check_conv(random_conv(r, true, i % 8), true, i % 3 != 0, i % 4 != 1,
                 9000 + uint64_t(i) * 11);
  }
  moodnet::cpu::force_isa(std::nullopt);
}

TEST_CASE("kernels: conv2d and depthwise on the seed models' exact shapes, and a batch of 10") {
  const Padding v = Padding::valid, s = Padding::same;
  struct Case {
    int64_t n, h, w, c, k, stride, f;
    Padding p;
    bool depthwise;
  };
  const std::vector<Case> cases = {
      {1, 150, 150, 3, 3, 1, 32, v, false},   // seed000 conv 1
      {1, 74, 74, 32, 3, 1, 64, v, false},    // seed000 conv 2
      {1, 36, 36, 64, 3, 1, 128, v, false},   // seed000 conv 3
      {2, 17, 17, 128, 3, 1, 128, v, false},  // seed000 conv 4
      {1, 256, 256, 3, 3, 1, 16, s, false},   // seed001 conv 1
      {1, 128, 128, 16, 3, 1, 32, v, false},  // seed001 conv 2
      {1, 63, 63, 32, 3, 1, 16, v, false},    // seed001 conv 3
      {1, 74, 74, 16, 3, 1, 64, s, false},    // seed004 attempt 2/3 conv 2
      {2, 37, 37, 64, 3, 1, 64, s, false},    // seed004 attempt 2/3 conv 3
      {2, 19, 19, 64, 3, 1, 32, s, false},    // seed004 attempt 3 conv 4
      {1, 150, 150, 3, 3, 1, 64, v, false},   // seed004 attempt 5 conv 1
      {1, 74, 74, 64, 3, 1, 48, s, false},    // seed004 attempt 5 conv 2
      {2, 56, 56, 3, 3, 2, 32, s, false},     // seed003 entry conv, stride 2 same
      {2, 28, 28, 32, 3, 1, 64, s, false},    // seed003 conv 2
      {2, 28, 28, 64, 3, 1, 64, s, true},     // seed003 separable 128: depthwise
      {2, 28, 28, 64, 1, 1, 128, s, false},   //   pointwise
      {2, 28, 28, 128, 3, 1, 128, s, true},   // separable 128 (2nd): depthwise
      {2, 28, 28, 128, 1, 1, 128, s, false},  //   pointwise
      {2, 28, 28, 64, 1, 2, 128, s, false},   // residual 1x1 stride 2 same
      {2, 14, 14, 128, 1, 1, 256, s, false},  // separable 256 pointwise
      {2, 14, 14, 128, 1, 2, 256, s, false},  // residual 256
      {2, 7, 7, 256, 3, 1, 256, s, true},     // separable 512 depthwise
      {2, 7, 7, 256, 1, 1, 512, s, false},    //   pointwise
      {2, 4, 4, 512, 1, 1, 728, s, false},    // separable 728 pointwise
      {2, 4, 4, 512, 1, 2, 728, s, false},    // residual 728
      {2, 2, 2, 728, 3, 1, 728, s, true},     // separable 1024 depthwise
      {2, 2, 2, 728, 1, 1, 1024, s, false},   //   pointwise
      // Past 8 images a weight-gradient group holds two, and a 1x1 conv prefetches the next
      // image while its last row block runs (30 columns: blocks of 17 rows).
      {10, 20, 30, 24, 1, 1, 40, v, false},
      {10, 20, 30, 24, 1, 2, 40, s, false},
      {10, 20, 30, 32, 3, 1, 32, s, true},
      // RGB 3x3 with up to 16 filters: the weight gradient's three-kernel-row AVX-512 tile,
      // with partial filter lanes, strides and both paddings.
      {3, 17, 23, 3, 3, 2, 5, s, false},
      {2, 30, 19, 3, 3, 1, 12, v, false},
      {2, 9, 40, 3, 3, 1, 16, s, false},
      // Three filters: backward-data is a forward conv over 3 channels, on the RGB forward tile.
      {2, 11, 37, 8, 3, 1, 3, v, false},
      // One channel, 3x3 stride 1 (fer-cnn's first layer and variants): the forward's one-channel
      // tiles (12 rows; output rows of 48, 40, 24, 33): 32 filters as two halves, 20 as a
      // full and a partial one, 16 and 7 as one, 48 as a 32-filter strip and a half; and the
      // weight gradient's three-kernel-row tile over 3 taps (full, partial, half-empty strips).
      {2, 48, 48, 1, 3, 1, 32, s, false},
      {2, 13, 42, 1, 3, 1, 20, v, false},
      {2, 7, 24, 1, 3, 1, 16, s, false},
      {3, 9, 40, 1, 3, 1, 7, s, false},
      {2, 10, 33, 1, 3, 1, 48, s, false},
      // Images smaller than a weight-gradient tile of taps (5 floats, 14 rows): a short tile of
      // the second-to-last image would read past the batch (caught under AddressSanitizer).
      {3, 1, 5, 1, 1, 1, 3, v, false},
  };
  uint64_t seed = 20000;
  for (const Case& c : cases) {
    const ConvGeometry g = ConvGeometry::make(c.n, c.h, c.w, c.c, c.k, c.k, c.stride, c.stride,
                                              c.depthwise ? c.c : c.f, c.p);
    check_conv(g, c.depthwise, true, true, seed += 10);
  }
  // Nine taps per kernel row with kw != 3 (1 x 9 channels, 9 x 1): the RGB weight-gradient
  // tile takes any 3-row kernel whose rows are 9 contiguous floats.
  for (const auto& [kw, ch] : {std::pair<int64_t, int64_t>{1, 9}, {9, 1}})
    check_conv(ConvGeometry::make(2, 12, 17, ch, 3, kw, 1, 1, 7, Padding::same), false, true, true,
               seed += 10);
  // Kernel rows of 9 taps 3 floats apart also come from 3 x 9 one-channel kernels at horizontal
  // stride 3: the RGB forward tile's addressing (pixel i, tap k at 3 * i + k) holds for them too.
  // 20 filters: a full and a partial 16-filter half; 34 output columns: the middle tile reads the
  // image in place, the outer ones a padded copy.
  check_conv(ConvGeometry::make(2, 12, 100, 1, 3, 9, 1, 3, 20, Padding::same), false, true, true,
             seed += 10);
}

TEST_CASE("kernels: max and average pooling against the reference") {
  const OneThread one_thread;
  Rng r(3);
  auto run = [](const PoolGeometry& p, uint64_t seed) {
    INFO("pool x(" << p.n << "," << p.h << "," << p.w << "," << p.c << ") window " << p.ph << "x"
                   << p.pw << " stride " << p.sh << "x" << p.sw << " pad " << p.pad_top << ","
                   << p.pad_left);
    const int64_t xs = p.n * p.h * p.w * p.c, ys = p.n * p.oh * p.ow * p.c;
    F x = random_floats(xs, seed);
    const F dy = random_floats(ys, seed + 1);
    // Every third case: ReLU-like inputs, many exact ties (zeros), where the gradient must go
    // to the first maximum of the window as in the reference.
    if ((seed / 3) % 3 == 0)
      for (float& v : x) v = std::max(0.0f, std::round(v * 2.0f) / 2.0f);
    const Dv xd = to_double(x), dyd = to_double(dy);
    Guarded y(ys), dx(xs);
    Dv yr(static_cast<size_t>(ys)), dxr(static_cast<size_t>(xs));
    CpuOps::max_pool2d_forward(p, x.data(), y.data());
    RefOps::max_pool2d_forward(p, xd.data(), yr.data());
    REQUIRE(y.intact());
    REQUIRE_CLOSE(y.data(), yr.data(), ys, "max forward");
    CpuOps::max_pool2d_backward(p, x.data(), y.data(), dy.data(), dx.data());
    RefOps::max_pool2d_backward(p, xd.data(), yr.data(), dyd.data(), dxr.data());
    REQUIRE(dx.intact());
    REQUIRE_CLOSE(dx.data(), dxr.data(), xs, "max backward");
    // With the producer's ReLU / ReLU6 folded in: dy passes only where the max is in the
    // activation's linear range (inputs here span about [-1, 1]; scaled by 8 for ReLU6's top).
    for (Activation act : {Activation::relu, Activation::relu6}) {
      F xa = x;
      if (act == Activation::relu6)
        for (float& v : xa) v *= 8.0f;
      const Dv xad = to_double(xa);
      Guarded yf(ys), dxf(xs);
      CpuOps::max_pool2d_forward(p, xa.data(), yf.data());
      RefOps::max_pool2d_forward(p, xad.data(), yr.data());
      CpuOps::max_pool2d_backward(p, xa.data(), yf.data(), dy.data(), dxf.data(), act);
      RefOps::max_pool2d_backward(p, xad.data(), yr.data(), dyd.data(), dxr.data(), act);
      REQUIRE(dxf.intact());
      const std::string what = std::string("max backward, ") + to_string(act) + " folded";
      REQUIRE_CLOSE(dxf.data(), dxr.data(), xs, what);
    }
    Guarded ya(ys), dxa(xs);
    CpuOps::avg_pool2d_forward(p, x.data(), ya.data());
    RefOps::avg_pool2d_forward(p, xd.data(), yr.data());
    REQUIRE(ya.intact());
    REQUIRE_CLOSE(ya.data(), yr.data(), ys, "avg forward");
    CpuOps::avg_pool2d_backward(p, dy.data(), dxa.data());
    RefOps::avg_pool2d_backward(p, dyd.data(), dxr.data());
    REQUIRE(dxa.intact());
    REQUIRE_CLOSE(dxa.data(), dxr.data(), xs, "avg backward");
  };
  for (int i = 0; i < 120; ++i) {
    // Every ISA in turn (the pooling kernels are built per ISA); channels past 16 included.
    const moodnet::cpu::Isa isa = std::array{moodnet::cpu::Isa::generic, moodnet::cpu::Isa::avx2,
                                             moodnet::cpu::Isa::avx512}[size_t(i % 3)];
    moodnet::cpu::force_isa(moodnet::cpu::detail::isa_supported(isa)
                                ? std::optional<moodnet::cpu::Isa>(isa)
                                : std::nullopt);
    const int64_t ph = r.pick<int64_t>({1, 2, 2, 3}), pw = r.coin() ? ph : r.pick<int64_t>({2, 3});
    const int64_t h = r.uniform(std::max<int64_t>(ph, 1), 13),
                  w = r.uniform(std::max<int64_t>(pw, 1), 13);
    const int64_t sh = r.pick<int64_t>({1, 2, 2, 3}), sw = r.coin() ? sh : r.pick<int64_t>({1, 2});
    const PoolGeometry p = PoolGeometry::make(r.pick<int64_t>({1, 2, 3}), h, w,
                                              r.pick<int64_t>({1, 2, 3, 5, 8, 17, 32}), ph, pw, sh,
                                              sw, r.coin() ? Padding::same : Padding::valid);
    run(p, 30000 + uint64_t(i) * 3);
  }
  moodnet::cpu::force_isa(std::nullopt);
  // Seed shapes: 2x2 valid after seed000's first conv, 2x2 same in seed004, 3x3 stride 2 same in
  // seed003.
  run(PoolGeometry::make(1, 148, 148, 32, 2, 2, 2, 2, Padding::valid), 1);
  run(PoolGeometry::make(2, 37, 37, 16, 2, 2, 2, 2, Padding::same), 2);
  run(PoolGeometry::make(2, 28, 28, 128, 3, 3, 2, 2, Padding::same), 3);
  run(PoolGeometry::make(2, 4, 4, 728, 3, 3, 2, 2, Padding::same), 4);
  // 2x2/2 'valid' on odd sizes: the last row and column belong to no window (ties: seed 9).
  run(PoolGeometry::make(2, 37, 35, 16, 2, 2, 2, 2, Padding::valid), 9);
}

TEST_CASE("kernels: global average pooling against the reference") {
  for (auto [n, hw, c] :
       {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {2, 49, 3}, {3, 4, 1024}, {2, 13, 17}}) {
    INFO("n " << n << " hw " << hw << " c " << c);
    const F x = random_floats(n * hw * c, 5), dy = random_floats(n * c, 6);
    const Dv xd = to_double(x), dyd = to_double(dy);
    Guarded y(n * c), dx(n * hw * c);
    Dv yr(static_cast<size_t>(n * c)), dxr(static_cast<size_t>(n * hw * c));
    CpuOps::global_avg_pool_forward(n, hw, c, x.data(), y.data());
    RefOps::global_avg_pool_forward(n, hw, c, xd.data(), yr.data());
    REQUIRE(y.intact());
    REQUIRE_CLOSE(y.data(), yr.data(), n * c, "forward");
    CpuOps::global_avg_pool_backward(n, hw, c, dy.data(), dx.data());
    RefOps::global_avg_pool_backward(n, hw, c, dyd.data(), dxr.data());
    REQUIRE(dx.intact());
    REQUIRE_CLOSE(dx.data(), dxr.data(), n * hw * c, "backward");
  }
}

TEST_CASE("kernels: dense forward and backward against the reference") {
  const OneThread one_thread;
  Rng r(4);
  auto run = [](int64_t n, int64_t in, int64_t out, bool bias, uint64_t seed) {
    INFO("dense n " << n << " in " << in << " out " << out << (bias ? " bias" : ""));
    const F x = random_floats(n * in, seed), w = random_floats(in * out, seed + 1),
            b = random_floats(out, seed + 2);
    const F dy = random_floats(n * out, seed + 3), dw0 = random_floats(in * out, seed + 4);
    const F db0 = random_floats(out, seed + 5);
    const Dv xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);
    Guarded y(n * out), dx(n * in), dw(dw0), db(db0);
    Dv yr(static_cast<size_t>(n * out)), dxr(static_cast<size_t>(n * in)), dwr = to_double(dw0),
                                                                           dbr = to_double(db0);
    CpuOps::dense_forward(n, in, out, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
    RefOps::dense_forward(n, in, out, xd.data(), wd.data(), bias ? bd.data() : nullptr, yr.data());
    REQUIRE(y.intact());
    REQUIRE_CLOSE(y.data(), yr.data(), n * out, "forward");
    CpuOps::dense_backward_data(n, in, out, dy.data(), w.data(), dx.data());
    RefOps::dense_backward_data(n, in, out, dyd.data(), wd.data(), dxr.data());
    REQUIRE(dx.intact());
    REQUIRE_CLOSE(dx.data(), dxr.data(), n * in, "backward_data");
    CpuOps::dense_backward_params(n, in, out, x.data(), dy.data(), dw.data(),
                                  bias ? db.data() : nullptr);
    RefOps::dense_backward_params(n, in, out, xd.data(), dyd.data(), dwr.data(),
                                  bias ? dbr.data() : nullptr);
    REQUIRE(dw.intact());
    REQUIRE(db.intact());
    REQUIRE_CLOSE(dw.data(), dwr.data(), in * out, "backward_params dw (accumulated)");
    REQUIRE_CLOSE(db.data(), dbr.data(), out, "backward_params db (accumulated)");
  };
  for (int i = 0; i < 40; ++i)
    run(r.pick<int64_t>({1, 2, 3, 16, 17, 32}), r.pick<int64_t>({1, 2, 7, 13, 64, 97, 300}),
        r.pick<int64_t>({1, 2, 5, 16, 31, 128}), r.coin(), 40000 + uint64_t(i) * 7);
  // Seed heads: Flatten 6272 -> 512 -> 1 (seed000), 14400 -> 256 (seed001), 3200 -> 256 (seed004).
  run(2, 6272, 512, true, 1);
  run(2, 512, 1, true, 2);
  run(1, 14400, 256, true, 3);
  run(2, 3200, 256, true, 4);
}

TEST_CASE("kernels: batch norm train, infer and backward against the reference, every ISA") {
  using moodnet::cpu::Isa;
  // Sizes past the parallel threshold (2^16 values) and fer-cnn's three block shapes (batch 8)
  // run the chunked reductions with several chunks; odd channel counts leave vector tails.
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
    for (auto [rows, c] : {std::pair<int64_t, int64_t>{1, 3},
                           {7, 1},
                           {50, 16},
                           {2 * 17 * 17, 33},
                           {2 * 28 * 28, 64},
                           {8 * 48 * 48, 32},
                           {8 * 24 * 24, 64},
                           {8 * 12 * 12, 128},
                           {4099, 17}}) {
      if (!moodnet::cpu::detail::isa_supported(isa)) continue;
      moodnet::cpu::force_isa(isa);
      INFO("isa " << moodnet::cpu::to_string(isa) << " rows " << rows << " c " << c);
      const float eps = 1e-3f;
      const F x = random_floats(rows * c, 7, -2, 3), gamma = random_floats(c, 8, 0.5, 1.5),
              beta = random_floats(c, 9);
      const F dy = random_floats(rows * c, 10), mm = random_floats(c, 11),
              mv = random_floats(c, 12, 0.1, 2);
      const F dg0 = random_floats(c, 13), db0 = random_floats(c, 14);
      const Dv xd = to_double(x), gd = to_double(gamma), bd = to_double(beta), dyd = to_double(dy);
      const Dv mmd = to_double(mm), mvd = to_double(mv);
      Guarded mean(c), var(c), inv_std(c), xhat(rows * c), y(rows * c);
      Dv mr(static_cast<size_t>(c)), vr(static_cast<size_t>(c)), ir(static_cast<size_t>(c)),
          hr(static_cast<size_t>(rows * c)), yr(static_cast<size_t>(rows * c));
      CpuOps::batch_norm_train_forward(rows, c, eps, x.data(), gamma.data(), beta.data(),
                                       mean.data(), var.data(), inv_std.data(), xhat.data(),
                                       y.data());
      RefOps::batch_norm_train_forward(rows, c, double(eps), xd.data(), gd.data(), bd.data(),
                                       mr.data(), vr.data(), ir.data(), hr.data(), yr.data());
      for (const Guarded* g : {&mean, &var, &inv_std, &xhat, &y}) REQUIRE(g->intact());
      REQUIRE_CLOSE(mean.data(), mr.data(), c, "mean");
      REQUIRE_CLOSE(var.data(), vr.data(), c, "var");
      REQUIRE_CLOSE(inv_std.data(), ir.data(), c, "inv_std");
      REQUIRE_CLOSE(xhat.data(), hr.data(), rows * c, "xhat");
      REQUIRE_CLOSE(y.data(), yr.data(), rows * c, "y");

      Guarded dx(rows * c), dg(dg0), db(db0), scratch(2 * c);
      Dv dxr(static_cast<size_t>(rows * c)), dgr = to_double(dg0), dbr = to_double(db0),
                                             sr(static_cast<size_t>(2 * c));
      CpuOps::batch_norm_backward(rows, c, dy.data(), xhat.data(), gamma.data(), inv_std.data(),
                                  dx.data(), dg.data(), db.data(), scratch.data());
      RefOps::batch_norm_backward(rows, c, dyd.data(), hr.data(), gd.data(), ir.data(), dxr.data(),
                                  dgr.data(), dbr.data(), sr.data());
      for (const Guarded* g : {&dx, &dg, &db, &scratch}) REQUIRE(g->intact());
      REQUIRE_CLOSE(dx.data(), dxr.data(), rows * c, "dx");
      REQUIRE_CLOSE(dg.data(), dgr.data(), c, "dgamma (accumulated)");
      REQUIRE_CLOSE(db.data(), dbr.data(), c, "dbeta (accumulated)");

      Guarded yi(rows * c);
      CpuOps::batch_norm_infer_forward(rows, c, eps, x.data(), gamma.data(), beta.data(), mm.data(),
                                       mv.data(), yi.data());
      RefOps::batch_norm_infer_forward(rows, c, double(eps), xd.data(), gd.data(), bd.data(),
                                       mmd.data(), mvd.data(), yr.data());
      REQUIRE(yi.intact());
      REQUIRE_CLOSE(yi.data(), yr.data(), rows * c, "infer");
      // The same operations in the same order as the portable float loop: the same bits.
      F yn(static_cast<size_t>(rows * c));
      moodnet::naive::batch_norm_infer_forward(rows, c, eps, x.data(), gamma.data(), beta.data(),
                                               mm.data(), mv.data(), yn.data());
      REQUIRE(std::memcmp(yi.data(), yn.data(), yn.size() * sizeof(float)) == 0);

      F moving = mm;
      Dv moving_r = mmd;
      CpuOps::moving_average_update(c, 0.99f, mean.data(), moving.data());
      RefOps::moving_average_update(c, 0.99, mr.data(), moving_r.data());
      REQUIRE_CLOSE(moving.data(), moving_r.data(), c, "moving average");
    }
  moodnet::cpu::force_isa(std::nullopt);
}

TEST_CASE("kernels: dropout masks are bitwise the reference's, every ISA") {
  using moodnet::cpu::Isa;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    // Lengths with vector tails and past the parallel threshold (2^16); rates 0 and near 1.
    for (int64_t n : {1, 17, 1000, 70001})
      for (float rate : {0.0f, 0.25f, 0.3f, 0.5f, 0.999f}) {
        INFO("isa " << moodnet::cpu::to_string(isa) << " n " << n << " rate " << rate);
        const F x = random_floats(n, 21);
        Guarded y(n), mask(n);
        Dv yr(static_cast<size_t>(n)), mr(static_cast<size_t>(n));
        const uint64_t seed = 5 + uint64_t(n), stream = 0x1234 + uint64_t(rate * 1000);
        CpuOps::dropout_forward(n, rate, seed, stream, x.data(), mask.data(), y.data());
        REQUIRE(y.intact());
        REQUIRE(mask.intact());
        // The naive float loop (the Cpu kernel before the integer threshold): equal bits.
        F yf(static_cast<size_t>(n)), mf(static_cast<size_t>(n));
        moodnet::naive::dropout_forward(n, rate, seed, stream, x.data(), mf.data(), yf.data());
        REQUIRE(std::memcmp(mask.data(), mf.data(), static_cast<size_t>(n) * sizeof(float)) == 0);
        REQUIRE(std::memcmp(y.data(), yf.data(), static_cast<size_t>(n) * sizeof(float)) == 0);
        RefOps::dropout_forward(n, double(rate), seed, stream, to_double(x).data(), mr.data(),
                                yr.data());
        REQUIRE_CLOSE(mask.data(), mr.data(), n, "dropout mask");
        REQUIRE_CLOSE(y.data(), yr.data(), n, "dropout");
      }
  }
  moodnet::cpu::force_isa(std::nullopt);
}

TEST_CASE("kernels: activations forward and backward against the reference") {
  for (Activation a : {Activation::linear, Activation::relu, Activation::relu6, Activation::sigmoid,
                       Activation::softmax, Activation::tanh})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {17, 2}, {300, 300}}) {
      INFO(moodnet::to_string(a) << " rows " << rows << " cols " << cols);
      const int64_t n = rows * cols;
      const F z = random_floats(n, 15, -8, 9), dy = random_floats(n, 16);
      const Dv zd = to_double(z), dyd = to_double(dy);
      Guarded y(n), dz(n);
      Dv yr(static_cast<size_t>(n)), dzr(static_cast<size_t>(n));
      CpuOps::activation_forward(a, rows, cols, z.data(), y.data());
      RefOps::activation_forward(a, rows, cols, zd.data(), yr.data());
      REQUIRE(y.intact());
      REQUIRE_CLOSE(y.data(), yr.data(), n, "forward");
      Guarded inplace(z);  // z == y is allowed
      CpuOps::activation_forward(a, rows, cols, inplace.data(), inplace.data());
      REQUIRE(inplace.intact());
      REQUIRE(std::memcmp(inplace.data(), y.data(), static_cast<size_t>(n) * sizeof(float)) == 0);
      CpuOps::activation_backward(a, rows, cols, y.data(), dy.data(), dz.data());
      RefOps::activation_backward(a, rows, cols, yr.data(), dyd.data(), dzr.data());
      REQUIRE(dz.intact());
      REQUIRE_CLOSE(dz.data(), dzr.data(), n, "backward");
    }
}

TEST_CASE("kernels: element-wise ops, losses and optimizer updates against the reference") {
  const int64_t n = 1000;
  const F a = random_floats(n, 17), b = random_floats(n, 18, 0.05, 1),
          t = random_floats(n, 19, 0, 1);
  const Dv ad = to_double(a), bd = to_double(b), td = to_double(t);
  Dv r(static_cast<size_t>(n));
  {
    Guarded y(n), mask(n);
    Dv mr(static_cast<size_t>(n));
    CpuOps::dropout_forward(n, 0.3f, 7, 9, a.data(), mask.data(), y.data());
    RefOps::dropout_forward(n, 0.3, 7, 9, ad.data(), mr.data(), r.data());
    REQUIRE(y.intact());
    REQUIRE(mask.intact());
    REQUIRE_CLOSE(mask.data(), mr.data(), n, "dropout mask");
    REQUIRE_CLOSE(y.data(), r.data(), n, "dropout");
  }
  {
    Guarded y(n);
    CpuOps::multiply(n, a.data(), b.data(), y.data());
    RefOps::multiply(n, ad.data(), bd.data(), r.data());
    REQUIRE(y.intact());
    REQUIRE_CLOSE(y.data(), r.data(), n, "multiply");
    CpuOps::scale_shift(n, 1.0f / 255, -0.5f, a.data(), y.data());
    RefOps::scale_shift(n, double(1.0f / 255), -0.5, ad.data(), r.data());
    REQUIRE_CLOSE(y.data(), r.data(), n, "scale_shift");
    CpuOps::add(n, a.data(), b.data(), y.data());
    RefOps::add(n, ad.data(), bd.data(), r.data());
    REQUIRE_CLOSE(y.data(), r.data(), n, "add");
    CpuOps::add_inplace(n, a.data(), y.data());
    RefOps::add_inplace(n, ad.data(), r.data());
    REQUIRE_CLOSE(y.data(), r.data(), n, "add_inplace");
    CpuOps::axpy(n, -0.3f, b.data(), y.data());
    RefOps::axpy(n, double(-0.3f), bd.data(), r.data());
    REQUIRE_CLOSE(y.data(), r.data(), n, "axpy");
    REQUIRE(y.intact());
    REQUIRE(CpuOps::sum_squares(n, a.data()) ==
            Approx(RefOps::sum_squares(n, ad.data())).epsilon(1e-6));
  }
  {
    Guarded g(n);
    const double lf = CpuOps::bce_from_logits(n, a.data(), t.data(), g.data(), 0.5f);
    const double ld = RefOps::bce_from_logits(n, ad.data(), td.data(), r.data(), 0.5);
    REQUIRE(lf == Approx(ld).epsilon(kTol));
    REQUIRE_CLOSE(g.data(), r.data(), n, "bce_from_logits");
    const double pf = CpuOps::bce_from_probabilities(n, b.data(), t.data(), g.data(), 0.5f);
    const double pd = RefOps::bce_from_probabilities(n, bd.data(), td.data(), r.data(), 0.5);
    REQUIRE(pf == Approx(pd).epsilon(kTol));
    REQUIRE_CLOSE(g.data(), r.data(), n, "bce_from_probabilities");
    const double cf = CpuOps::softmax_cce(100, 10, a.data(), t.data(), g.data(), 0.5f);
    const double cd = RefOps::softmax_cce(100, 10, ad.data(), td.data(), r.data(), 0.5);
    REQUIRE(cf == Approx(cd).epsilon(kTol));
    REQUIRE_CLOSE(g.data(), r.data(), n, "softmax_cce");
    REQUIRE(g.intact());
  }
  {
    F w = a, v(static_cast<size_t>(n), 0.1f), m(static_cast<size_t>(n), 0.01f),
      s(static_cast<size_t>(n), 0.02f);
    Dv wd = ad, vd(static_cast<size_t>(n), double(0.1f)), md(static_cast<size_t>(n), double(0.01f)),
       sd(static_cast<size_t>(n), double(0.02f));
    CpuOps::sgd_update(n, 0.01f, 0.9f, true, w.data(), b.data(), v.data());
    RefOps::sgd_update(n, double(0.01f), double(0.9f), true, wd.data(), bd.data(), vd.data());
    REQUIRE_CLOSE(w.data(), wd.data(), n, "sgd");
    CpuOps::rmsprop_update(n, 0.001f, 0.9f, 1e-7f, w.data(), b.data(), s.data());
    RefOps::rmsprop_update(n, double(0.001f), double(0.9f), double(1e-7f), wd.data(), bd.data(),
                           sd.data());
    REQUIRE_CLOSE(w.data(), wd.data(), n, "rmsprop");
    CpuOps::adam_update(n, 0.001f, 0.9f, 0.999f, 1e-7f, w.data(), b.data(), m.data(), v.data());
    RefOps::adam_update(n, double(0.001f), double(0.9f), double(0.999f), double(1e-7f), wd.data(),
                        bd.data(), md.data(), vd.data());
    REQUIRE_CLOSE(w.data(), wd.data(), n, "adam");
  }
}

#ifdef _OPENMP
TEST_CASE("kernels: Cpu kernels are bitwise identical with 1 and 2 threads") {
  const int saved = omp_get_max_threads();
  struct Outputs {
    std::vector<F> v;
  };
  // Runs every parallel Cpu kernel once and returns all outputs.
  auto run_all = []() {
    Outputs o;
    for (const ConvGeometry& g :
         {ConvGeometry::make(5, 20, 18, 8, 3, 3, 1, 1, 16, Padding::same),
          ConvGeometry::make(3, 21, 17, 6, 3, 2, 2, 2, 10, Padding::valid),
          ConvGeometry::make(4, 16, 16, 32, 1, 1, 1, 1, 24, Padding::same),
          ConvGeometry::make(9, 14, 14, 16, 1, 1, 2, 2, 8, Padding::same),
          // Winograd F(4x4) (several tile blocks per thread)
          ConvGeometry::make(4, 13, 12, 48, 3, 3, 1, 1, 48, Padding::same),
          // Winograd F(2x2) (outputs under 8x8; several tile blocks per thread)
          ConvGeometry::make(40, 7, 6, 48, 3, 3, 1, 1, 48, Padding::same),
          // RGB first layer: 9-tap weight-gradient tiles, images split over groups
          ConvGeometry::make(6, 30, 29, 3, 3, 3, 1, 1, 16, Padding::valid),
          // One-channel first layer: its forward and three-kernel-row weight-gradient tiles
          ConvGeometry::make(10, 20, 26, 1, 3, 3, 1, 1, 32, Padding::same)}) {
      const int64_t xs = g.n * g.h * g.w * g.c, ys = g.n * g.oh * g.ow * g.f,
                    ws = g.kh * g.kw * g.c * g.f;
      const F x = random_floats(xs, 1), w = random_floats(ws, 2), b = random_floats(g.f, 3),
              dy = random_floats(ys, 4);
      F y(static_cast<size_t>(ys)), dx(static_cast<size_t>(xs)), dw = random_floats(ws, 5),
                                                                 db = random_floats(g.f, 6);
      CpuOps::conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
      CpuOps::conv2d_backward_data(g, dy.data(), w.data(), dx.data());
      CpuOps::conv2d_backward_params(g, x.data(), dy.data(), dw.data(), db.data());
      o.v.insert(o.v.end(), {y, dx, dw, db});
      // depthwise with multiplier 2 on the same input
      const ConvGeometry d =
          ConvGeometry::make(g.n, g.h, g.w, g.c, g.kh, g.kw, g.sh, g.sw, 2 * g.c, Padding::same);
      const int64_t dys = d.n * d.oh * d.ow * d.f, dws = d.kh * d.kw * d.f;
      const F dwk = random_floats(dws, 7), ddy = random_floats(dys, 8);
      F dyo(static_cast<size_t>(dys)), ddx(static_cast<size_t>(xs)), ddw = random_floats(dws, 9),
                                                                     ddb = random_floats(d.f, 10);
      CpuOps::depthwise_conv2d_forward(d, x.data(), dwk.data(), ddb.data(), dyo.data());
      CpuOps::depthwise_conv2d_backward_data(d, ddy.data(), dwk.data(), ddx.data());
      CpuOps::depthwise_conv2d_backward_params(d, x.data(), ddy.data(), ddw.data(), ddb.data());
      o.v.insert(o.v.end(), {dyo, ddx, ddw, ddb});
    }
    {  // depthwise 3x3, multiplier 1: the vector tiles, border tiles, row-by-row weight gradient
      const ConvGeometry d = ConvGeometry::make(10, 17, 23, 32, 3, 3, 1, 1, 32, Padding::same);
      const int64_t xs = d.n * d.h * d.w * d.c, ys = d.n * d.oh * d.ow * d.f;
      const F x = random_floats(xs, 21), wk = random_floats(9 * d.c, 22),
              b = random_floats(d.c, 23), dy = random_floats(ys, 24);
      F y(static_cast<size_t>(ys)), dx(static_cast<size_t>(xs)), dw = random_floats(9 * d.c, 25),
                                                                 db = random_floats(d.c, 26);
      CpuOps::depthwise_conv2d_forward(d, x.data(), wk.data(), b.data(), y.data());
      CpuOps::depthwise_conv2d_backward_data(d, dy.data(), wk.data(), dx.data());
      CpuOps::depthwise_conv2d_backward_params(d, x.data(), dy.data(), dw.data(), db.data());
      o.v.insert(o.v.end(), {y, dx, dw, db});
    }
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const int64_t M = 131, N = 67, K = 97;
        const F A = random_floats(M * K, 11), B = random_floats(K * N, 12);
        F C = random_floats(M * N, 13);
        CpuOps::gemm(ta, tb, M, N, K, 1.5f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.5f,
                     C.data(), N);
        o.v.push_back(C);
      }
    const F x = random_floats(33 * 500, 14), w = random_floats(500 * 70, 15),
            dy = random_floats(33 * 70, 16);
    F y(33 * 70), dx(33 * 500), dw(500 * 70, 0.5f), db(70, 0.25f);
    CpuOps::dense_forward(33, 500, 70, x.data(), w.data(), db.data(), y.data());
    CpuOps::dense_backward_data(33, 500, 70, dy.data(), w.data(), dx.data());
    CpuOps::dense_backward_params(33, 500, 70, x.data(), dy.data(), dw.data(), db.data());
    o.v.insert(o.v.end(), {y, dx, dw, db});
    const PoolGeometry p = PoolGeometry::make(4, 60, 61, 32, 3, 3, 2, 2, Padding::same);
    const F px = random_floats(p.n * p.h * p.w * p.c, 17),
            pdy = random_floats(p.n * p.oh * p.ow * p.c, 18);
    F py(static_cast<size_t>(p.n * p.oh * p.ow * p.c)), pdx(px.size());
    CpuOps::max_pool2d_forward(p, px.data(), py.data());
    CpuOps::max_pool2d_backward(p, px.data(), py.data(), pdy.data(), pdx.data());
    o.v.insert(o.v.end(), {py, pdx});
    {  // 2x2/2 max pool on odd sizes under 'same': whole windows and the padding-cut edge
      const PoolGeometry q = PoolGeometry::make(6, 31, 29, 16, 2, 2, 2, 2, Padding::same);
      const F qx = random_floats(q.n * q.h * q.w * q.c, 27),
              qdy = random_floats(q.n * q.oh * q.ow * q.c, 28);
      F qy(qdy.size()), qdx(qx.size());
      CpuOps::max_pool2d_forward(q, qx.data(), qy.data());
      CpuOps::max_pool2d_backward(q, qx.data(), qy.data(), qdy.data(), qdx.data());
      o.v.insert(o.v.end(), {qy, qdx});
    }
    CpuOps::avg_pool2d_forward(p, px.data(), py.data());
    CpuOps::avg_pool2d_backward(p, pdy.data(), pdx.data());
    o.v.insert(o.v.end(), {py, pdx});
    const int64_t rows = 4 * 30 * 31, c = 32;
    const F g = random_floats(c, 19), be = random_floats(c, 20);
    F mean(c), var(c), inv(c), xhat(px.size()), by(px.size()), bdx(px.size()), dg(c, 0.f),
        dbe(c, 0.f), scr(2 * c);
    CpuOps::batch_norm_train_forward(rows, c, 1e-3f, px.data(), g.data(), be.data(), mean.data(),
                                     var.data(), inv.data(), xhat.data(), by.data());
    CpuOps::batch_norm_backward(rows, c, px.data(), xhat.data(), g.data(), inv.data(), bdx.data(),
                                dg.data(), dbe.data(), scr.data());
    o.v.insert(o.v.end(), {mean, var, inv, xhat, by, bdx, dg, dbe});
    F act(px.size());
    CpuOps::activation_forward(Activation::relu, rows, c, px.data(), act.data());
    o.v.push_back(act);
    return o;
  };
  omp_set_num_threads(1);
  const Outputs one = run_all();
  omp_set_num_threads(2);
  const Outputs two = run_all();
  omp_set_num_threads(saved);
  REQUIRE(one.v.size() == two.v.size());
  for (size_t i = 0; i < one.v.size(); ++i) {
    INFO("output " << i);
    REQUIRE(one.v[i].size() == two.v[i].size());
    REQUIRE(std::memcmp(one.v[i].data(), two.v[i].data(), one.v[i].size() * sizeof(float)) == 0);
  }
}
#endif

TEST_CASE(
    "kernels: Winograd F(2x2, 3x3) and F(4x4, 3x3) convs (3x3 stride 1, C and F >= 16; F(4x4) "
    "for outputs of 8x8 or more with C <= 64; weight gradients at C * F >= 2048, F(4x4)'s at "
    ">= 1024): sizes odd and even, both paddings, fused ReLU/ReLU6, fer-cnn's shapes, every ISA") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  const Padding v = Padding::valid, s = Padding::same;
  struct Case {
    int64_t n, h, w, c, f;
    Padding pad;
  };
  // Odd sizes leave half tiles at the bottom/right; 'valid' backward-data pads by 2; C, F past a
  // vector (17, 33, 40) leave channel tails; tile counts cross block boundaries (2 x 24 x 24 at
  // C = F = 64 is 288 tiles, blocks of 56 or 60).
  const Case cases[] = {{1, 4, 4, 16, 16, s},
                        {2, 5, 7, 16, 16, s},
                        {3, 9, 6, 17, 33, v},
                        {1, 6, 11, 24, 40, s},
                        {2, 13, 5, 32, 17, v},
                        {1, 8, 8, 48, 16, s},
                        {2, 24, 24, 64, 64, s},
                        {1, 12, 12, 128, 128, s},
                        {2, 48, 48, 32, 32, s},
                        {2, 24, 24, 32, 64, s},
                        {1, 7, 19, 16, 96, v},
                        // weight gradient by Winograd (C * F >= 2048): channel tails past the
                        // 14-row tiles; two 576-tile images (3 blocks of up to 256 tiles)
                        {2, 9, 13, 33, 65, v},
                        {3, 5, 6, 48, 48, s},
                        {2, 48, 48, 32, 64, s},
                        // F(4x4, 3x3) (outputs of at least 8x8): partial 4x4 tiles at the
                        // bottom/right, channel tails
                        {2, 11, 9, 16, 24, s},
                        {1, 10, 14, 20, 17, v},
                        {2, 17, 13, 40, 33, s},
                        {1, 8, 8, 16, 16, s},
                        // F(4x4) weight gradient (C * F >= 1024): more tiles than a block
                        {1, 10, 14, 24, 48, v},
                        {3, 21, 22, 32, 32, s},
                        // Weight-gradient GEMM rows (C) on 8-row tiles (F in whole 32-filter
                        // strips): C = 16 (two tiles), C = 40 (five)
                        {2, 13, 11, 16, 64, v},
                        {1, 12, 10, 40, 32, s},
                        // ... at F = 16, and a last tile of 7 rows (C = 63)
                        {1, 8, 8, 64, 16, s},
                        {1, 9, 9, 63, 32, s}};
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    INFO("isa " << moodnet::cpu::to_string(isa));
    uint64_t seed = 70000;
    for (const Case& k : cases) {
      const ConvGeometry g = ConvGeometry::make(k.n, k.h, k.w, k.c, 3, 3, 1, 1, k.f, k.pad);
      REQUIRE(moodnet::cpu::winograd_applies(g));
      check_conv(g, false, seed % 2 == 0, true, seed);
      for (Activation act : {Activation::relu, Activation::relu6}) {
        INFO(describe(g, false) << " act " << moodnet::to_string(act));
        const F x = random_floats(g.n * g.h * g.w * g.c, seed + 10, -4, 4),
                w = random_floats(9 * g.c * g.f, seed + 11), b = random_floats(g.f, seed + 12);
        Guarded y(g.n * g.oh * g.ow * g.f);
        CpuOps::conv2d_forward_act(g, x.data(), w.data(), b.data(), act, y.data());
        const Dv bd = to_double(b);
        const Dv want = reference_conv_act(g, to_double(x), to_double(w), bd.data(), act);
        REQUIRE(y.intact());
        REQUIRE_CLOSE(y.data(), want.data(), y.size(), "y");
      }
      seed += 100;
    }
  }
  moodnet::cpu::force_isa(std::nullopt);
}

TEST_CASE(
    "kernels: Winograd F(4x4, 3x3) and F(2x2, 3x3) forward, each called directly, against the "
    "reference (with and without bias, linear/ReLU/ReLU6), every ISA") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  const Padding v = Padding::valid, s = Padding::same;
  struct Case {
    int64_t n, h, w, c, f;
    Padding pad;
  };
  // Both algorithms on every shape (F(4x4) up to the 64 input channels it is used for),
  // whichever the dispatch would pick: small and odd outputs (partial tiles), channel tails,
  // several tile blocks, fer-cnn's and seed004's shapes.
  const Case cases[] = {{1, 4, 4, 16, 16, s},   {2, 5, 7, 16, 16, s},     {3, 9, 6, 17, 33, v},
                        {2, 11, 9, 16, 24, s},  {1, 10, 14, 20, 17, v},   {2, 17, 13, 40, 33, s},
                        {2, 24, 24, 64, 64, s}, {1, 12, 12, 128, 128, s}, {2, 48, 48, 32, 32, s},
                        {1, 19, 19, 64, 32, s}, {1, 37, 37, 64, 64, s},   {1, 74, 74, 16, 64, s},
                        {1, 74, 74, 64, 16, s}};
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    INFO("isa " << moodnet::cpu::to_string(isa));
    uint64_t seed = 71000;
    for (const Case& k : cases) {
      const ConvGeometry g = ConvGeometry::make(k.n, k.h, k.w, k.c, 3, 3, 1, 1, k.f, k.pad);
      REQUIRE(moodnet::cpu::winograd_applies(g));
      const F x = random_floats(g.n * g.h * g.w * g.c, seed, -4, 4),
              w = random_floats(9 * g.c * g.f, seed + 1), b = random_floats(g.f, seed + 2);
      const Dv xd = to_double(x), wd = to_double(w), bd = to_double(b);
      for (int algo : {2, 4})
        for (Activation act : {Activation::linear, Activation::relu, Activation::relu6}) {
          if (algo == 4 && g.c > 64) continue;  // F(4x4) is used up to 64 input channels
          const bool bias = act != Activation::relu;
          INFO(describe(g, false) << " F(" << algo << "x" << algo << ") act "
                                  << moodnet::to_string(act) << (bias ? " bias" : ""));
          Guarded y(g.n * g.oh * g.ow * g.f);
          if (algo == 4)
            moodnet::cpu::conv_forward_winograd4(g, x.data(), w.data(), bias ? b.data() : nullptr,
                                                 act, y.data());
          else
            moodnet::cpu::conv_forward_winograd(g, x.data(), w.data(), bias ? b.data() : nullptr,
                                                act, y.data());
          const Dv want = reference_conv_act(g, xd, wd, bias ? bd.data() : nullptr, act);
          REQUIRE(y.intact());
          REQUIRE_CLOSE(y.data(), want.data(), y.size(), "y");
        }
      seed += 100;
    }
  }
  moodnet::cpu::force_isa(std::nullopt);
}

TEST_CASE("kernels: conv2d_forward_act fuses bias and ReLU/ReLU6 like conv + activation") {
  const OneThread one_thread;
  Rng r(77);
  for (int i = 0; i < 40; ++i) {
    const ConvGeometry g = random_conv(r, false, 2 + i % 6);
    const Activation act = r.pick<Activation>({Activation::relu, Activation::relu6});
    INFO("conv " << g.n << "x" << g.h << "x" << g.w << "x" << g.c << " k " << g.kh << "x" << g.kw
                 << " s " << g.sh << " f " << g.f << " act " << moodnet::to_string(act));
    // Scaled so that ReLU6 clips some outputs.
    const F x = random_floats(g.n * g.h * g.w * g.c, 300 + uint64_t(i), -4, 4),
            w = random_floats(g.kh * g.kw * g.c * g.f, 400 + uint64_t(i)),
            b = random_floats(g.f, 500 + uint64_t(i));
    Guarded y(g.n * g.oh * g.ow * g.f);
    CpuOps::conv2d_forward_act(g, x.data(), w.data(), b.data(), act, y.data());
    const Dv bd = to_double(b);
    const Dv want = reference_conv_act(g, to_double(x), to_double(w), bd.data(), act);
    REQUIRE(y.intact());
    REQUIRE_CLOSE(y.data(), want.data(), y.size(), "y");
  }
}

TEST_CASE(
    "kernels: every conv tile shape (6x64, 12/14 rows, RGB, 9-tap, 3-tap) and depthwise block "
    "against the reference") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  // Widths and channel counts chosen so that each tile kernel is picked somewhere: 75 columns
  // with 64 filters (6x64), 60 (12 rows), 28 (14 rows), RGB input (stride-3 rows) and 3x3 RGB
  // weight gradients (9-row tiles), one-channel ones (3-row tiles), 'same' borders and stride 2.
  const ConvGeometry shapes[] = {ConvGeometry::make(2, 4, 75, 16, 3, 3, 1, 1, 64, Padding::same),
                                 ConvGeometry::make(1, 5, 62, 8, 3, 3, 1, 1, 32, Padding::valid),
                                 ConvGeometry::make(2, 3, 28, 64, 1, 1, 1, 1, 128, Padding::valid),
                                 ConvGeometry::make(2, 7, 40, 3, 3, 3, 1, 1, 16, Padding::same),
                                 ConvGeometry::make(1, 6, 33, 3, 3, 3, 1, 1, 48, Padding::valid),
                                 ConvGeometry::make(2, 9, 31, 5, 3, 3, 2, 2, 20, Padding::same),
                                 // one-channel input: 3-row weight-gradient tiles (F 32 and 16)
                                 ConvGeometry::make(2, 11, 30, 1, 3, 3, 1, 1, 32, Padding::same),
                                 ConvGeometry::make(1, 8, 17, 1, 3, 3, 1, 1, 13, Padding::valid)};
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    INFO("isa " << moodnet::cpu::to_string(isa));
    uint64_t seed = 700;
    for (const ConvGeometry& g : shapes) check_conv(g, false, true, true, seed += 10);
    // Depthwise: 8-pixel register blocks of 16 channels, 'same' borders, stride 2, odd C.
    for (const ConvGeometry& g : {ConvGeometry::make(2, 6, 28, 64, 3, 3, 1, 1, 64, Padding::same),
                                  ConvGeometry::make(1, 9, 23, 32, 3, 3, 2, 2, 32, Padding::same),
                                  ConvGeometry::make(2, 5, 19, 20, 3, 3, 1, 1, 20, Padding::valid),
                                  ConvGeometry::make(1, 7, 30, 16, 5, 5, 1, 1, 16, Padding::same)})
      check_conv(g, true, true, true, seed += 10);
  }
  moodnet::cpu::force_isa(std::nullopt);
}

TEST_CASE("kernels: conv weight gradient fused with max-pool backward is bitwise the two apart") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  Rng r(5151);
  int fused = 0, odd_blocks = 0;
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    for (int i = 0; i < 50; ++i) {
      ConvGeometry g = random_conv(r, false, 2 + i % 6);
      // Wide rows: blocks of 2, 3 and 5 output rows (conv_backward_params_image), which a pool
      // row may straddle; RGB inputs as the first layers that take this path.
      if (i % 4 == 0)
        g = ConvGeometry::make(r.pick<int64_t>({1, 2}), r.uniform(3, 12),
                               r.pick<int64_t>({102, 152, 258}), r.pick<int64_t>({1, 3}), 3, 3, 1,
                               1, r.pick<int64_t>({8, 16, 32}),
                               r.coin() ? Padding::same : Padding::valid);
      const auto drawn = random_pool_after(r, g);
      if (!drawn) continue;
      const PoolGeometry& p = drawn->p;
      const Activation act = drawn->act;
      const int64_t ps = p.ph;
      INFO(describe(g, false) << drawn->text << " isa " << to_string(isa));
      if (!CpuOps::conv2d_backward_params_max_pool_applies(g, p) ||
          !CpuOps::conv2d_max_pool_index_applies(g, p)) {
        // Refused where the conv is 1x1, its weight gradient or a forward the pool cannot
        // follow runs Winograd, or the windows do not start at the top-left corner.
        CHECK(((g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1) ||
               moodnet::cpu::winograd_grad_applies(g) || moodnet::cpu::winograd4_grad_applies(g) ||
               (moodnet::cpu::winograd_applies(g) &&
                (!moodnet::cpu::winograd4_applies(g) || ps != 2)) ||
               p.pad_top > 0 || p.pad_left > 0));
        continue;
      }
      ++fused;
      odd_blocks += moodnet::cpu::weight_grad_rows_per_block(g) % ps != 0;
      const uint64_t seed = 5200 + 10 * uint64_t(i);
      const F x = random_floats(g.n * g.h * g.w * g.c, seed, -4, 4),
              w = random_floats(g.kh * g.kw * g.c * g.f, seed + 1),
              b = random_floats(g.f, seed + 2);
      F z(static_cast<size_t>(g.n * g.oh * g.ow * g.f));
      CpuOps::conv2d_forward_act(g, x.data(), w.data(), b.data(), act, z.data());
      F y(static_cast<size_t>(p.n * p.oh * p.ow * p.c)), y_fused(y.size());
      CpuOps::max_pool2d_forward(p, z.data(), y.data());
      // The fused forward's index: all the fused backward keeps of the conv output.
      std::vector<uint8_t> idx(y.size());
      CpuOps::conv2d_forward_max_pool(g, x.data(), w.data(), b.data(), act, p, y_fused.data(),
                                      idx.data());
      REQUIRE(std::memcmp(y_fused.data(), y.data(), y.size() * sizeof(float)) == 0);
      const F dy = random_floats(p.n * p.oh * p.ow * p.c, seed + 3),
              dw0 = random_floats(g.kh * g.kw * g.c * g.f, seed + 4),
              db0 = random_floats(g.f, seed + 5);
      // Apart: the pool's gradient (the activation folded in) into dz, then the conv's.
      F dz(z.size()), want_dw = dw0, want_db = db0;
      CpuOps::max_pool2d_backward(p, z.data(), y.data(), dy.data(), dz.data(), act);
      CpuOps::conv2d_backward_params(g, x.data(), dz.data(), want_dw.data(), want_db.data());
      Guarded dw(dw0), db(db0);
      CpuOps::conv2d_backward_params_max_pool(g, x.data(), p, idx.data(), dy.data(), dw.data(),
                                              db.data());
      REQUIRE(dw.intact());
      REQUIRE(db.intact());
      REQUIRE(std::memcmp(dw.data(), want_dw.data(), want_dw.size() * sizeof(float)) == 0);
      REQUIRE(std::memcmp(db.data(), want_db.data(), want_db.size() * sizeof(float)) == 0);
    }
  }
  moodnet::cpu::force_isa(std::nullopt);
  CHECK(fused > 50);
  CHECK(odd_blocks > 5);  // blocks that split a pool row were reached
}

TEST_CASE("kernels: conv + max pool fused for inference is bitwise conv then pool, every ISA") {
  using moodnet::cpu::Isa;
  const OneThread one_thread;
  Rng r(4242);
  int fused = 0, fused_winograd4 = 0, indexed = 0, ties = 0;
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (!moodnet::cpu::detail::isa_supported(isa)) continue;
    moodnet::cpu::force_isa(isa);
    for (int i = 0; i < 60; ++i) {
      // Random convs (mostly direct), and a third 3x3 stride-1 convs over >= 16 channels, which
      // run Winograd.
      ConvGeometry g = random_conv(r, false, 2 + i % 6);
      if (i % 3 == 0)  // Winograd: F(4x4) from 8x8 outputs, F(2x2) below
        g = ConvGeometry::make(2, r.uniform(4, 19), r.uniform(4, 21), r.pick<int64_t>({16, 24}), 3,
                               3, 1, 1, r.pick<int64_t>({16, 20, 32}),
                               r.coin() ? Padding::same : Padding::valid);
      const auto drawn = random_pool_after(r, g);
      if (!drawn) continue;
      const PoolGeometry& p = drawn->p;
      const Activation act = drawn->act;
      const int64_t ps = p.ph;
      INFO(describe(g, false) << drawn->text << " isa " << to_string(isa));
      if (!CpuOps::conv2d_max_pool_applies(g, p)) {
        // Refused only where the conv is 1x1, runs Winograd F(2x2) or F(4x4) under other than
        // 2x2 windows, or the windows do not start at the top-left corner.
        CHECK(((g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1) ||
               (moodnet::cpu::winograd_applies(g) &&
                (!moodnet::cpu::winograd4_applies(g) || ps != 2)) ||
               p.pad_top > 0 || p.pad_left > 0));
        continue;
      }
      ++fused;
      fused_winograd4 += moodnet::cpu::winograd4_applies(g);
      F x = random_floats(g.n * g.h * g.w * g.c, 900 + uint64_t(i), -4, 4),
        w = random_floats(g.kh * g.kw * g.c * g.f, 1000 + uint64_t(i)),
        b = random_floats(g.f, 1100 + uint64_t(i));
      if (i % 2 == 1) {
        // Small integers and halves: exact sums, so windows often hold their maximum twice (the
        // index must name the first, as the pool's backward picks it).
        for (float& v : x) v = std::round(v);
        for (float& v : w) v = std::round(2 * v) / 2;
        for (float& v : b) v = std::round(v);
      }
      F conv(static_cast<size_t>(g.n * g.oh * g.ow * g.f));
      CpuOps::conv2d_forward_act(g, x.data(), w.data(), b.data(), act, conv.data());
      F want(static_cast<size_t>(p.n * p.oh * p.ow * p.c));
      CpuOps::max_pool2d_forward(p, conv.data(), want.data());
      Guarded y(p.n * p.oh * p.ow * p.c);
      CpuOps::conv2d_forward_max_pool(g, x.data(), w.data(), b.data(), act, p, y.data());
      REQUIRE(y.intact());
      REQUIRE(std::memcmp(y.data(), want.data(), want.size() * sizeof(float)) == 0);
      if (!CpuOps::conv2d_max_pool_index_applies(g, p)) continue;
      // Training's form: the same y, and an index from which the pool's backward gives what it
      // gives from the conv output (the activation's derivative folded in).
      constexpr size_t kGuard = 64;
      std::vector<uint8_t> idx(want.size() + 2 * kGuard, 0xA5);
      Guarded y_train(p.n * p.oh * p.ow * p.c);
      CpuOps::conv2d_forward_max_pool(g, x.data(), w.data(), b.data(), act, p, y_train.data(),
                                      idx.data() + kGuard);
      REQUIRE(y_train.intact());
      REQUIRE(std::memcmp(y_train.data(), want.data(), want.size() * sizeof(float)) == 0);
      for (size_t k = 0; k < kGuard; ++k) {
        REQUIRE(idx[k] == 0xA5);
        REQUIRE(idx[kGuard + want.size() + k] == 0xA5);
      }
      const F dy = random_floats(p.n * p.oh * p.ow * p.c, 1200 + uint64_t(i));
      F dz_want(conv.size());
      CpuOps::max_pool2d_backward(p, conv.data(), want.data(), dy.data(), dz_want.data(), act);
      Guarded dz(static_cast<int64_t>(conv.size()));
      CpuOps::max_pool2d_backward_index(p, idx.data() + kGuard, dy.data(), dz.data());
      REQUIRE(dz.intact());
      REQUIRE(std::memcmp(dz.data(), dz_want.data(), conv.size() * sizeof(float)) == 0);
      ++indexed;
      // Live windows whose maximum appears more than once (the whole windows).
      for (int64_t n = 0; n < p.n; ++n)
        for (int64_t py = 0; py < p.oh; ++py)
          for (int64_t px = 0; px < p.ow; ++px)
            for (int64_t c = 0; c < p.c; ++c) {
              const size_t k = static_cast<size_t>(((n * p.oh + py) * p.ow + px) * p.c + c);
              if (idx[kGuard + k] == moodnet::cpu::detail::kPoolNoGradient ||
                  (py + 1) * p.sh > p.h || (px + 1) * p.sw > p.w)
                continue;
              int hits = 0;
              for (int64_t a = 0; a < p.ph; ++a)
                for (int64_t e = 0; e < p.pw; ++e)
                  hits +=
                      conv[static_cast<size_t>(
                          ((n * p.h + py * p.sh + a) * p.w + px * p.sw + e) * p.c + c)] == want[k];
              ties += hits > 1;
            }
    }
  }
  moodnet::cpu::force_isa(std::nullopt);
  CHECK(fused > 60);  // the sweep reached the fused kernels on most cases
  CHECK(fused_winograd4 > 10);
  CHECK(indexed > 60);
  CHECK(ties > 100);
}
