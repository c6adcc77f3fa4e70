// Finite-difference gradient checks on the Reference device (double), for moodnet's own tests and
// for users who write their own layers:
//
//   moodnet::Conv2D<moodnet::Reference> conv({.filters = 4, .padding = moodnet::Padding::same});
//   conv.build({{7, 5, 3}});
//   conv.initialize(/*seed=*/1, /*stream=*/0);
//   moodnet::testing::GradCheckReport r = moodnet::testing::gradcheck(conv, {x});
//   INFO(r.str());
//   REQUIRE(r.ok());
//
// gradcheck() checks one layer against the scalar L = sum(dy * y) for a fixed random dy, so the
// exact gradients are what backward(dy) returns. Numerical gradients are central differences,
// dL/dv ~ sum(dy * (y(v + h) - y(v - h))) / 2h, taken element by element over every input and every
// trainable parameter. The forward pass is forward_train() with the same TrainStep each time, so
// a Dropout mask stays fixed and BatchNormalization uses batch statistics (or, frozen, its moving
// ones). Keep inputs off kinks (ReLU at 0, ties in MaxPooling) by more than h.
//
// It also checks the gradient contract of layer.hpp: before backward, every dx is filled with NaN
// (so it must be overwritten) and every parameter gradient with 1 (so backward must add to it:
// the analytic gradient is grad - 1); a frozen layer must leave its gradients alone; backward with
// null dx pointers must give the same parameter gradients; forward and backward must not write to
// their inputs.
//
// gradcheck_model() checks a whole Model: the gradients Model::backward accumulates for the loss of
// compute_loss() (including the fused sigmoid/softmax + cross-entropy path) against central
// differences of that mean loss.
//
// Errors are relative, element by element: |a - n| / max(|a| + |n|, floor), where the floor is
// max(abs_floor, rel_floor * the largest |a| or |n| in that tensor), so elements whose gradient
// is ~0 next to large ones are judged on the tensor's scale rather than their own, and absolute
// errors below tolerance * abs_floor (1e-9 by default: the rounding noise of a difference
// quotient with h = 1e-6) always pass.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "../core/random.hpp"
#include "../kernels/reference.hpp"
#include "../nn/layer.hpp"
#include "../nn/loss.hpp"
#include "../nn/model.hpp"

namespace moodnet::testing {

struct GradCheckOptions {
  double h = 1e-6;            // central-difference step
  double tolerance = 1e-6;    // ok() requires every relative error <= tolerance
  double rel_floor = 1e-3;    // see the header comment
  double abs_floor = 1e-3;    // so absolute errors below tolerance * abs_floor always pass
  uint64_t seed = 0x5eed;     // draws dy (standard normal) for gradcheck()
  TrainStep step{};           // passed to every forward_train / Model::forward
  bool check_inputs = true;   // dL/dx for every input
  bool check_params = true;   // dL/dparam for every trainable parameter
  bool check_null_dx = true;  // backward with null dx gives the same parameter gradients
};

// The comparison for one tensor (an input gradient "dx[i]" or a parameter "layer/param").
struct TensorCheck {
  std::string name;
  int64_t size = 0;
  double max_rel_error = 0;  // the largest element error (see the header comment)
  double max_abs_error = 0;
  int64_t worst = -1;                // the element with the largest relative error
  double analytic = 0, numeric = 0;  // at `worst`
};

struct GradCheckReport {
  std::string subject;  // the layer's type and name, or the model's name
  double tolerance = 0;
  std::vector<TensorCheck> tensors;
  std::vector<std::string> contract_errors;  // overwrite/accumulate/frozen/null-dx violations

  double max_rel_error() const {
    double m = 0;
    for (const TensorCheck& t : tensors) m = std::max(m, t.max_rel_error);
    return m;
  }
  const TensorCheck* find(const std::string& name) const {
    for (const TensorCheck& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  bool ok() const { return contract_errors.empty() && max_rel_error() <= tolerance; }

  std::string str() const {
    std::string s = "gradcheck " + subject + " (tolerance " + fmt(tolerance) + ")\n";
    for (const TensorCheck& t : tensors)
      s += "  " + t.name + " [" + std::to_string(t.size) + "]: max rel " + fmt(t.max_rel_error) +
           ", max abs " + fmt(t.max_abs_error) +
           (t.worst >= 0 ? ", worst #" + std::to_string(t.worst) + " analytic " + fmt(t.analytic) +
                               " numeric " + fmt(t.numeric)
                         : std::string()) +
           (t.max_rel_error <= tolerance ? "" : "  <-- FAIL") + "\n";
    for (const std::string& e : contract_errors) s += "  contract: " + e + "\n";
    return s;
  }

 private:
  static std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
  }
};

namespace detail {

using RTensor = Tensor<Reference>;

inline TensorCheck compare(std::string name, const std::vector<double>& analytic,
                           const std::vector<double>& numeric, const GradCheckOptions& o) {
  TensorCheck t;
  t.name = std::move(name);
  t.size = static_cast<int64_t>(analytic.size());
  double scale = 0;
  for (size_t i = 0; i < analytic.size(); ++i)
    scale = std::max({scale, std::fabs(analytic[i]), std::fabs(numeric[i])});
  const double floor = std::max(o.abs_floor, o.rel_floor * scale);
  for (size_t i = 0; i < analytic.size(); ++i) {
    const double a = analytic[i], n = numeric[i], diff = std::fabs(a - n);
    double e = diff / std::max(std::fabs(a) + std::fabs(n), floor);
    if (std::isnan(e)) e = std::numeric_limits<double>::infinity();
    if (t.worst < 0 || e > t.max_rel_error) {
      t.max_rel_error = e;
      t.worst = static_cast<int64_t>(i);
      t.analytic = a;
      t.numeric = n;
    }
    t.max_abs_error = std::max(t.max_abs_error,
                               std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff);
  }
  return t;
}

inline bool same_values(const RTensor& a, const RTensor& b) {
  if (!(a.shape() == b.shape())) return false;
  for (int64_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
  return true;
}

inline int64_t count_nan(const RTensor& t) {
  int64_t k = 0;
  for (double v : t) k += std::isnan(v) ? 1 : 0;
  return k;
}

inline int64_t count_not_finite(const RTensor& t) {
  int64_t k = 0;
  for (double v : t) k += std::isfinite(v) ? 0 : 1;
  return k;
}

}  // namespace detail

// Checks one built (and initialised) layer on the given batched inputs. The inputs are copied;
// the layer's weights are restored exactly afterwards, its cached training state is not.
inline GradCheckReport gradcheck(Layer<Reference>& layer,
                                 const std::vector<Tensor<Reference>>& inputs,
                                 const GradCheckOptions& o = {}) {
  using detail::RTensor;
  GradCheckReport rep;
  const std::string lname = layer.name().empty() ? keras_snake_case(layer.type()) : layer.name();
  rep.subject = layer.type() + " '" + lname + "'";
  rep.tolerance = o.tolerance;
  const double nan = std::numeric_limits<double>::quiet_NaN();

  std::vector<RTensor> x(inputs);  // perturbed in place below
  std::vector<const RTensor*> xp;
  for (const RTensor& t : x) xp.push_back(&t);
  auto forward = [&](RTensor& y) { layer.forward_train(xp, y, o.step); };

  RTensor y;
  forward(y);
  if (detail::count_not_finite(y))
    rep.contract_errors.push_back("forward_train produced " +
                                  std::to_string(detail::count_not_finite(y)) +
                                  " non-finite outputs");
  RTensor dy(y.shape());
  for (int64_t i = 0; i < dy.size(); ++i)
    dy[i] = random_normal(o.seed, 0xd7, static_cast<uint64_t>(i));
  const RTensor y0 = y, dy0 = dy;

  // Backward with dx = NaN and parameter gradients = 1.
  std::vector<RTensor> dx(x.size());
  std::vector<RTensor*> dxp;
  for (size_t i = 0; i < x.size(); ++i) {
    dx[i].resize(x[i].shape());
    dx[i].fill(nan);
    dxp.push_back(&dx[i]);
  }
  std::vector<Parameter<Reference>*> grads;  // parameters that carry a gradient
  for (Parameter<Reference>* p : layer.parameters())
    if (!p->grad.empty()) {
      grads.push_back(p);
      p->grad.fill(1.0);
    }
  layer.backward(xp, y, dy, dxp, false);

  for (size_t i = 0; i < x.size(); ++i) {
    const std::string nm = "dx[" + std::to_string(i) + "]";
    if (!detail::same_values(x[i], inputs[i]))
      rep.contract_errors.push_back("forward_train or backward wrote to input " +
                                    std::to_string(i));
    if (!(dx[i].shape() == x[i].shape()))
      rep.contract_errors.push_back(nm + " has shape " + dx[i].shape().to_string() + ", input " +
                                    x[i].shape().to_string());
    else if (int64_t k = detail::count_nan(dx[i]))
      rep.contract_errors.push_back(nm + ": " + std::to_string(k) + " of " +
                                    std::to_string(dx[i].size()) +
                                    " elements not overwritten by backward (still NaN)");
  }
  if (!detail::same_values(y, y0) || !detail::same_values(dy, dy0))
    rep.contract_errors.push_back("backward wrote to y or dy");

  const bool trainable = layer.trainable();
  std::vector<std::vector<double>> param_analytic(grads.size());
  for (size_t k = 0; k < grads.size(); ++k) {
    const Parameter<Reference>& p = *grads[k];
    const std::string nm = lname + "/" + p.name;
    if (!(p.grad.shape() == p.value.shape())) {
      rep.contract_errors.push_back(nm + ": gradient shape " + p.grad.shape().to_string() +
                                    " differs from " + p.value.shape().to_string());
      continue;
    }
    if (!trainable) {
      for (double g : p.grad)
        if (g != 1.0) {
          rep.contract_errors.push_back(nm +
                                        ": the layer is frozen but backward changed its gradient");
          break;
        }
      continue;
    }
    for (double g : p.grad) param_analytic[k].push_back(g - 1.0);  // accumulated onto 1
  }

  // Backward again with null dx: same parameter gradients (the caller may not need dx).
  if (o.check_null_dx && trainable && !grads.empty()) {
    for (Parameter<Reference>* p : grads) p->grad.zero();
    std::vector<RTensor*> none(x.size(), nullptr);
    layer.backward(xp, y, dy, none, false);
    for (size_t k = 0; k < grads.size(); ++k) {
      const Parameter<Reference>& p = *grads[k];
      if (param_analytic[k].size() != static_cast<size_t>(p.grad.size())) continue;
      double scale = 0, diff = 0;
      for (int64_t i = 0; i < p.grad.size(); ++i) {
        const double a = param_analytic[k][static_cast<size_t>(i)];
        scale = std::max(scale, std::fabs(a));
        diff = std::max(diff, std::fabs(p.grad[i] - a));
      }
      if (!(diff <= 1e-12 * std::max(scale, 1.0)))
        rep.contract_errors.push_back(
            lname + "/" + p.name + ": backward with null dx gives different parameter gradients");
    }
  }

  // Numerical gradients.
  RTensor yp, ym;
  auto directional = [&](double& v) {
    const double saved = v;
    v = saved + o.h;
    forward(yp);
    v = saved - o.h;
    forward(ym);
    v = saved;
    double s = 0;
    for (int64_t i = 0; i < dy.size(); ++i) s += dy[i] * (yp[i] - ym[i]);
    return s / (2 * o.h);
  };
  if (o.check_inputs)
    for (size_t i = 0; i < x.size(); ++i) {
      if (!(dx[i].shape() == x[i].shape())) continue;
      std::vector<double> num(static_cast<size_t>(x[i].size()));
      for (int64_t j = 0; j < x[i].size(); ++j) num[static_cast<size_t>(j)] = directional(x[i][j]);
      rep.tensors.push_back(
          detail::compare("dx[" + std::to_string(i) + "]", dx[i].to_vector(), num, o));
    }
  if (o.check_params && trainable)
    for (size_t k = 0; k < grads.size(); ++k) {
      Parameter<Reference>& p = *grads[k];
      if (param_analytic[k].size() != static_cast<size_t>(p.value.size())) continue;
      std::vector<double> num(static_cast<size_t>(p.value.size()));
      for (int64_t j = 0; j < p.value.size(); ++j)
        num[static_cast<size_t>(j)] = directional(p.value[j]);
      rep.tensors.push_back(detail::compare(lname + "/" + p.name, param_analytic[k], num, o));
    }
  return rep;
}

// Checks Model::backward on the mean loss of compute_loss(loss, model, ...) for the batch (x,
// target): every trainable parameter of every trainable layer against central differences of
// the loss; frozen layers' gradients must stay untouched. Weights are restored exactly.
inline GradCheckReport gradcheck_model(Model<Reference>& model, const Tensor<Reference>& x,
                                       const Tensor<Reference>& target, const Loss& loss,
                                       const GradCheckOptions& o = {}) {
  using detail::RTensor;
  GradCheckReport rep;
  rep.subject = "model '" + model.name() + "' with " + loss.name();
  rep.tolerance = o.tolerance;

  const RTensor& out = model.forward(x, o.step);
  RTensor grad;
  const LossResult<Reference> r = compute_loss(loss, model, out, target, &grad);
  if (!std::isfinite(r.value)) rep.contract_errors.push_back("the loss is not finite");

  struct Entry {
    std::string name;
    Parameter<Reference>* p;
    bool trainable;
  };
  std::vector<Entry> entries;
  for (size_t i = 0; i < model.num_layers(); ++i) {
    Layer<Reference>& l = model.layer(i);
    for (Parameter<Reference>* p : l.parameters())
      if (!p->grad.empty()) entries.push_back({l.name() + "/" + p->name, p, l.trainable()});
  }
  for (Entry& e : entries) e.p->grad.fill(1.0);
  model.backward(grad, r.grad_is_preactivation);

  auto loss_at = [&]() {
    const RTensor& o2 = model.forward(x, o.step);
    return compute_loss<Reference>(loss, model, o2, target, nullptr).value;
  };
  for (Entry& e : entries) {
    if (!e.trainable) {
      for (double g : e.p->grad)
        if (g != 1.0) {
          rep.contract_errors.push_back(e.name +
                                        ": the layer is frozen but backward changed its gradient");
          break;
        }
      continue;
    }
    if (!o.check_params) continue;
    std::vector<double> analytic, numeric;
    for (double g : e.p->grad) analytic.push_back(g - 1.0);
    for (int64_t j = 0; j < e.p->value.size(); ++j) {
      double& v = e.p->value[j];
      const double saved = v;
      v = saved + o.h;
      const double lp = loss_at();
      v = saved - o.h;
      const double lm = loss_at();
      v = saved;
      numeric.push_back((lp - lm) / (2 * o.h));
    }
    rep.tensors.push_back(detail::compare(e.name, analytic, numeric, o));
  }
  return rep;
}

}  // namespace moodnet::testing
