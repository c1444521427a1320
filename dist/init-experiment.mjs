import{createRequire as r}from'node:module';import{fileURLToPath as f}from'node:url';import p from'node:path';
r(import.meta.url)('./engine-loader.cjs').boot(p.dirname(f(import.meta.url)),'init-experiment');
