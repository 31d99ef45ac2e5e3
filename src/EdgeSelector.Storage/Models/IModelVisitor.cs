namespace EdgeSelector.Storage.Models;

/// <summary>
/// Receives a model's bytes inside FASTER's read callback, in place: the span points into the store's in-memory log
/// and is valid only for the duration of <see cref="Visit"/>. Implement it as a struct so the call is devirtualised.
/// </summary>
/// <remarks>
/// The visitor is passed to the store by reference, so fields it sets in <see cref="Visit"/> are seen by the caller.
/// It may hold references (a result array, a buffer writer) but must not keep the span, and it must not throw: it
/// runs inside FASTER's epoch-protected read, and an exception there leaves the pooled session in an unknown state.
/// A visitor type reads only once declared in <see cref="ModelStoreOptions.Readers"/> (its own pool of sessions).
/// </remarks>
public interface IModelVisitor
{
    /// <summary>Called once with the stored bytes of <paramref name="titleId"/> in the generation being read.</summary>
    void Visit(uint titleId, ReadOnlySpan<byte> model);
}

/// <summary>
/// Checks a model before it is stored (the server verifies the Core model format and its checksum here), so a bad
/// model is rejected at push time and never reaches the request path.
/// </summary>
public interface IModelValidator
{
    /// <summary>True if <paramref name="model"/> may be stored for <paramref name="titleId"/>.</summary>
    bool Validate(uint titleId, ReadOnlySpan<byte> model);
}

/// <summary>A validator that accepts every model (for tests and tools that validated earlier).</summary>
public readonly struct AcceptAllModels : IModelValidator
{
    /// <inheritdoc />
    public bool Validate(uint titleId, ReadOnlySpan<byte> model) => true;
}
