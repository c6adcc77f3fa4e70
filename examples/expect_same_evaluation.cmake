# `train --model MODEL` really starts from MODEL's weights: one epoch at a negligible learning
# rate must leave the test confusion matrix exactly as `evaluate --model MODEL` reports it.
# Also checks the model's input (64x64x1) and the "starting from" line.
execute_process(COMMAND ${CMD} evaluate --model ${MODEL} --data ${DATA} --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE eval_out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "evaluate: exit code ${rc}\n${eval_out}\n${err}")
endif()
execute_process(COMMAND ${CMD} train --model ${MODEL} --data ${DATA} --epochs 1 --lr 1e-12
                        --threads 2 --out ${OUT} --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE train_out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "train --model: exit code ${rc}\n${train_out}\n${err}")
endif()
if(NOT train_out MATCHES "starting from [^\n]*\\(seed004-attempt3\\)\n.*\\(64x64x1\\)\n")
  message(FATAL_ERROR "train --model: no 'starting from' line or not 64x64x1\n${train_out}")
endif()
string(REGEX MATCH "{[^\n]*}\n?$" eval_json "${eval_out}")
string(REGEX MATCH "{[^\n]*}\n?$" train_json "${train_out}")
string(JSON before GET "${eval_json}" confusion)
string(JSON after GET "${train_json}" confusion)
message(STATUS "confusion: evaluate ${before}, train --model ${after}")
if(NOT before STREQUAL after)
  message(FATAL_ERROR "train --model did not start from the saved weights: ${before} vs ${after}")
endif()
