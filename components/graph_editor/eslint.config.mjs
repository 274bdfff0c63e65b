// ESLint's recommended rules for the editor's JavaScript (the component, its modules, the build config), with
// browser globals for the canvas code and Node's for the configs. Layout is Prettier's job (`npm run lint`).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";

export default defineConfig([
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  {
    files: ["**/*.{js,mjs}"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: globals.browser },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // the editor was once one 680-line setup(): keep its pieces small
      "max-statements": ["error", 30],
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "all" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "prefer-const": "error",
    },
  },
  { files: ["*.config.mjs"], languageOptions: { globals: globals.node } },
]);
