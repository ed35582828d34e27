import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The third-gateway matrix builds versitygw first: `npm run test:gateways`.
    exclude: ["test/gateways/**", "**/node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // End-to-end files share two fixed bucket names on the gateways; run files one at a time.
    fileParallelism: false,
  },
});
