// Library build of src/index.mjs into dist/index.js: one ES module whose only import is `vue`
// (NiceGUI's import map provides it), CSS inlined, minified. emptyOutDir: NiceGUI keys its cache on
// the folder's mtime and serves the files as immutable, so the folder is rebuilt, never patched.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warn",
  build: {
    lib: {
      entry: fileURLToPath(new URL("./src/index.mjs", import.meta.url)),
      formats: ["es"],
      fileName: () => "index.js",
    },
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    minify: true,
    sourcemap: false,
    reportCompressedSize: false,
    // Vite leaves ES library output unminified; rolldown minifies it (pure annotations are no longer needed)
    rolldownOptions: { external: ["vue"], output: { minify: true } },
  },
});
