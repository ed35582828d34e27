import { defineConfig } from "vitest/config";

// `npm run test:gateways`: the operations matrix on every make of gateway: Ceph RGW (RADOS and
// dbstore), MinIO, SeaweedFS, Garage and versitygw. It writes docs/operations.md's support table.
export default defineConfig({
  test: {
    include: ["test/gateways/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts", "test/helpers/gateways-setup.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
