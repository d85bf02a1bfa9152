#!/usr/bin/env node
// `npx infonet …` entry: load the TypeScript CLI through tsx's ESM loader.
import { register } from 'tsx/esm/api';
register();
await import('../cli/main.ts');
