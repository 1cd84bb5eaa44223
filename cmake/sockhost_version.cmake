# The project's version, in one place: the host (CMakeLists.txt) and the SDK built on its
# own (plugin-api/CMakeLists.txt) both take it from here.
set(SOCKHOST_VERSION 0.1.0)
