// Rebuilding layers and models from their description (a moodnet::Value, JSON in model files):
// make_layer() turns a layer's type() string and config() back into the layer; architecture_json()
// / model_from_architecture() do the same for a whole Model graph (input shape, name, seed and, per
// layer, type, name, trainable flag, config and the node ids feeding it). Weights are not part of
// the architecture: a rebuilt model holds freshly initialised weights until a model file
// (io/model_file.hpp) overwrites them.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../nn/activation.hpp"
#include "../nn/conv.hpp"
#include "../nn/dense.hpp"
#include "../nn/model.hpp"
#include "../nn/normalization.hpp"
#include "../nn/pooling.hpp"

namespace moodnet {

namespace detail {
template <class L, class D>
std::unique_ptr<Layer<D>> layer_from_config(const Value& config) {
  return std::make_unique<L>(L::from_config(config));
}

template <class D>
struct LayerFactory {
  const char* type;
  std::unique_ptr<Layer<D>> (*make)(const Value&);
};

// Every layer type a model file can hold, by its Keras class name.
template <class D>
const std::vector<LayerFactory<D>>& layer_factories() {
  static const std::vector<LayerFactory<D>> table = {
      {"Conv2D", &layer_from_config<Conv2D<D>, D>},
      {"DepthwiseConv2D", &layer_from_config<DepthwiseConv2D<D>, D>},
      {"SeparableConv2D", &layer_from_config<SeparableConv2D<D>, D>},
      {"MaxPooling2D", &layer_from_config<MaxPooling2D<D>, D>},
      {"AveragePooling2D", &layer_from_config<AveragePooling2D<D>, D>},
      {"GlobalAveragePooling2D", &layer_from_config<GlobalAveragePooling2D<D>, D>},
      {"BatchNormalization", &layer_from_config<BatchNormalization<D>, D>},
      {"Dropout", &layer_from_config<Dropout<D>, D>},
      {"Dense", &layer_from_config<Dense<D>, D>},
      {"Flatten", &layer_from_config<Flatten<D>, D>},
      {"Rescaling", &layer_from_config<Rescaling<D>, D>},
      {"ReLU", &layer_from_config<ReLU<D>, D>},
      {"ReLU6", &layer_from_config<ReLU6<D>, D>},
      {"Sigmoid", &layer_from_config<Sigmoid<D>, D>},
      {"Softmax", &layer_from_config<Softmax<D>, D>},
      {"Add", &layer_from_config<Add<D>, D>},
  };
  return table;
}
}  // namespace detail

// The layer type names make_layer() knows, in registry order.
template <class D>
std::vector<std::string> registered_layer_types() {
  std::vector<std::string> out;
  for (const auto& f : detail::layer_factories<D>()) out.emplace_back(f.type);
  return out;
}

// Rebuilds a layer (unnamed, unbuilt) from its type() and config(). Throws moodnet::Error naming
// the type when it is unknown or its config does not fit.
template <class D>
std::unique_ptr<Layer<D>> make_layer(const std::string& type, const Value& config) {
  for (const auto& f : detail::layer_factories<D>()) {
    if (type != f.type) continue;
    MOODNET_CHECK(config.is_object(), "layer type '", type, "': config must be an object, got ",
                  config.type_name());
    try {
      return f.make(config);
    } catch (const Error& e) {
      MOODNET_FAIL("layer type '", type, "': bad config ", config.dump(), ": ", e.what());
    }
  }
  std::string known;
  for (const auto& t : registered_layer_types<D>()) known += (known.empty() ? "" : ", ") + t;
  MOODNET_FAIL("unknown layer type '", type, "' (known: ", known, ")");
}

// The model's architecture as JSON:
// {"name", "seed", "input_shape": [...], "layers": [{"type", "name", "trainable", "config",
//  "inputs": [node ids]}]}. Node 0 is the model input; layer i is node i + 1.
template <class D>
Value architecture_json(const Model<D>& model) {
  Value layers = Value::array();
  for (size_t i = 0; i < model.num_layers(); ++i) {
    const Layer<D>& l = model.layer(i);
    layers.push_back(Value{{"type", l.type()},
                           {"name", l.name()},
                           {"trainable", l.trainable()},
                           {"config", l.config()},
                           {"inputs", model.layer_inputs(i)}});
  }
  return {{"name", model.name()},
          {"seed", model.seed()},
          {"metadata", model.metadata()},
          {"input_shape", model.input_shape().dims()},
          {"layers", std::move(layers)}};
}

// Rebuilds the model graph from architecture_json(); layer names and trainable flags are kept, the
// weights are freshly initialised from the saved seed. Throws moodnet::Error naming the layer, also
// when the layers would need more than `max_parameters` weight values (-1: no limit).
template <class D>
Model<D> model_from_architecture(const Value& arch, int64_t max_parameters = -1) {
  const detail::ScopedParameterBudget budget(max_parameters);
  MOODNET_CHECK(arch.is_object(), "architecture: expected an object, got ", arch.type_name());
  std::vector<int64_t> dims;
  try {
    dims = arch.at("input_shape").get<std::vector<int64_t>>();
  } catch (const Error& e) {
    MOODNET_FAIL("architecture: bad input_shape: ", e.what());
  }
  for (int64_t d : dims) MOODNET_CHECK(d > 0, "architecture: input_shape has a dimension ", d);
  const Value name = arch.contains("name") ? arch["name"] : Value("model");
  const Value seed = arch.contains("seed") ? arch["seed"] : Value(0);
  MOODNET_CHECK(name.is_string(), "architecture: model name must be a string");
  MOODNET_CHECK(seed.is_integer() && seed.is_unsigned(),
                "architecture: seed must be an unsigned integer");
  MOODNET_CHECK(arch.contains("layers") && arch["layers"].is_array(),
                "architecture: 'layers' must be an array");

  Model<D> model(Shape(dims), seed.get<uint64_t>(), name.get<std::string>());
  if (arch.contains("metadata")) {
    MOODNET_CHECK(arch["metadata"].is_object(), "architecture: metadata must be an object");
    model.metadata() = arch["metadata"];
  }
  std::set<std::string> names;
  size_t index = 0;
  for (const Value& spec : arch["layers"]) {
    const std::string where = "architecture: layer #" + std::to_string(index++);
    MOODNET_CHECK(spec.is_object(), where, " is not an object");
    std::string type, layer_name;
    bool trainable = true;
    std::vector<int> inputs;
    try {
      type = spec.at("type").get<std::string>();
      layer_name = spec.value("name", std::string());
      trainable = spec.value("trainable", true);
      inputs = spec.at("inputs").get<std::vector<int>>();
    } catch (const Error& e) {
      MOODNET_FAIL(where, ": ", e.what());
    }
    const std::string who = where + " '" + layer_name + "' (" + type + ")";
    MOODNET_CHECK(layer_name.empty() || names.insert(layer_name).second, who,
                  ": another layer has the same name");
    const Value config = spec.contains("config") ? spec["config"] : Value::object();
    try {
      std::unique_ptr<Layer<D>> layer = make_layer<D>(type, config);
      layer->set_name(layer_name);  // before add(), so the auto-namer keeps it
      layer->set_trainable(trainable);
      model.add(std::move(layer), inputs);
    } catch (const Error& e) {
      MOODNET_FAIL(who, ": ", e.what());
    }
  }
  return model;
}

}  // namespace moodnet
