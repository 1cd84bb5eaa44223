/* A shared object that is not a plugin: it exports no entry symbol. */
__attribute__((visibility("default"))) int not_the_entry(void) { return 42; }
