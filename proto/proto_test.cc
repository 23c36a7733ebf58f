#include <string>

#include "flsailer/v1/common.pb.h"
#include "gtest/gtest.h"

namespace {

TEST(ProtoTest, JobSpecRoundTripsThroughWireFormat) {
  flsailer::v1::JobSpec spec;
  spec.set_name("bmmc");
  spec.add_institutions()->set_value("hospital-a");
  spec.add_institutions()->set_value("hospital-b");
  spec.mutable_reference_peaks()->set_num_peaks(600);
  spec.mutable_sampling()->set_rate(0.2);
  spec.set_server_optimizer(flsailer::v1::SERVER_OPTIMIZER_FEDADAM);

  std::string wire;
  ASSERT_TRUE(spec.SerializeToString(&wire));
  flsailer::v1::JobSpec parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.institutions_size(), 2);
  EXPECT_EQ(parsed.institutions(1).value(), "hospital-b");
  EXPECT_EQ(parsed.reference_peaks().num_peaks(), 600u);
  EXPECT_DOUBLE_EQ(parsed.sampling().rate(), 0.2);
  EXPECT_EQ(parsed.server_optimizer(), flsailer::v1::SERVER_OPTIMIZER_FEDADAM);
}

TEST(ProtoTest, TruncatedChunkIsRejected) {
  flsailer::v1::TensorChunk chunk;
  chunk.mutable_header()->mutable_job_id()->set_value("job-1");
  chunk.set_data(std::string(1000, 'x'));
  std::string wire = chunk.SerializeAsString();
  flsailer::v1::TensorChunk parsed;
  EXPECT_FALSE(parsed.ParseFromString(wire.substr(0, wire.size() / 2)));
}

}  // namespace
