# Every dependency comes from Debian 12 packages (scripts/install-deps.sh installs them).

find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
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
