require('./engine-loader.cjs').zygote(__dirname);
