# moodnet_project_warnings(<target>): warning (and, with MOODNET_SANITIZE, sanitizer) flags for
# moodnet's OWN tests, examples and benchmarks. Never applied to the moodnet library target, so
# users never inherit them.
function(moodnet_project_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${MOODNET_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra $<$<BOOL:${MOODNET_WERROR}>:-Werror>)
    if(MOODNET_SANITIZE)
      target_compile_options(${target} PRIVATE -fsanitize=${MOODNET_SANITIZE}
                                               -fno-sanitize-recover=all -fno-omit-frame-pointer)
      target_link_options(${target} PRIVATE -fsanitize=${MOODNET_SANITIZE})
    endif()
  endif()
endfunction()
