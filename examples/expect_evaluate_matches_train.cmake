# `evaluate --model M` must score M's test images exactly as `train` scored them when it saved M:
# same AUC and confusion matrix. Run with ARGS = train options for a model that rescales pixels
# itself (seed003 takes raw 0-255 pixels; the model file says so in its "scale"), on the sample.
execute_process(COMMAND ${CMD} train ${ARGS} --out ${OUT} --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE train_out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "train: exit code ${rc}\n${train_out}\n${err}")
endif()
execute_process(COMMAND ${CMD} evaluate --model ${OUT} --data ${DATA} --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE eval_out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "evaluate: exit code ${rc}\n${eval_out}\n${err}")
endif()
string(REGEX MATCH "{[^\n]*}\n?$" train_json "${train_out}")
string(REGEX MATCH "{[^\n]*}\n?$" eval_json "${eval_out}")
foreach(key auc confusion)
  string(JSON t GET "${train_json}" ${key})
  string(JSON e GET "${eval_json}" ${key})
  message(STATUS "${key}: train ${t}, evaluate ${e}")
  if(NOT t STREQUAL e)
    message(FATAL_ERROR "evaluate scored the test images differently from train: ${key} ${t} vs ${e}")
  endif()
endforeach()
