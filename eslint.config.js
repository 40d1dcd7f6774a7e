// ESLint flat config (ESLint >= 9) for the browser code of dgcoverage: dgcoverage/data/web/*.js.
// The page script is a classic script (an IIFE, no modules) run in the browser beside Leaflet (global `L`).
"use strict";

const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  {
    ignores: ["node_modules/", ".venv/", "build/", "maps/", "data/", "tests/artifacts/"],
  },
  js.configs.recommended,
  {
    files: ["dgcoverage/data/web/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: {
        ...globals.browser,
        L: "readonly",
      },
    },
    rules: {
      // The GCJ-02 constant EE is the published value, written with all its digits (as in
      // dgcoverage.inputs.coords); the double it parses to is the intended one.
      "no-loss-of-precision": "off",
    },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: globals.node,
    },
  },
];
