# Every dependency comes from Debian 12 packages (scripts/install-deps.sh installs them).

find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
# libs/pki and libs/rpc: certificates through the OpenSSL 3 API (libssl-dev).
find_package(OpenSSL 3 REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
# services/coordinator: the HTTPS/JSON admin API on cpp-httplib (libcpp-httplib-dev 0.11.4, a
# compiled library built with OpenSSL, zlib and brotli). Its pkg-config file carries the
# CPPHTTPLIB_*_SUPPORT definitions, which every includer needs: they change the classes' layout.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CPPHTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# libs/telemetry: Prometheus metric types (prometheus-cpp-dev 1.0.1's prometheus-cpp::core); its
# /metrics endpoint is served with cpp-httplib (see libs/telemetry/metrics.h).
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(GTest REQUIRED)
# libs/eval: Leiden clustering and graph layouts (libigraph-dev 0.10 ships igraph::igraph) and
# approximate nearest neighbours (libhnswlib-dev, header-only).
find_package(igraph CONFIG REQUIRED)
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h REQUIRED)
# LibTorch (Debian libtorch-dev 1.13); only libs/model links it, PRIVATE.
find_package(Torch REQUIRED)
if(FLSAILER_BENCH)
  find_package(benchmark REQUIRED)
endif()
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_package(SQLite3 REQUIRED)
