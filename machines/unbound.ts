/**
 * Machines name their effects (write to the peer, read the sensors) and the
 * actors in actors/ bind them with `.provide(...)`. Until then an effect is
 * unbound: calling one is a wiring fault, and says which.
 */
export function unbound(kind: string, name: string): () => never {
  return () => {
    throw new Error(`${kind} "${name}" was not provided to the machine`);
  };
}
