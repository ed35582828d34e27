import { defineConfig } from "vitest/config";

// `npm run test:gateways`: the operations matrix on more makes of gateway than npm test starts.
export default defineConfig({
  test: {
    include: ["test/gateways/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
