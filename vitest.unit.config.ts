import { defineConfig } from "vitest/config";

// `npm run test:unit`: the unit tests alone, on the in-memory fakes, without starting any server.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
