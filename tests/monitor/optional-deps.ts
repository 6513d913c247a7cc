// Test-only dependencies that a fresh machine may lack (devDependencies not yet installed, or Chromium).
// Under CI a missing one is an error that says how to install it; elsewhere the test is skipped with a note.

export async function optionalModule<T>(name: string, install: string): Promise<T | null> {
  try {
    // A computed specifier: the type checker must not require the package to be installed.
    const spec = name;
    return (await import(spec)) as T;
  } catch (err) {
    const why = `${name} is not installed (${install}): ${err instanceof Error ? err.message : String(err)}`;
    if (process.env.CI) throw new Error(why);
    console.warn(`skipping tests that need ${name}: ${why}`);
    return null;
  }
}

export async function optionalExecutable(path: string, install: string): Promise<string | null> {
  if (await Bun.file(path).exists()) return path;
  const why = `${path} not found (${install})`;
  if (process.env.CI) throw new Error(why);
  console.warn(`skipping tests that need ${path}: ${why}`);
  return null;
}
