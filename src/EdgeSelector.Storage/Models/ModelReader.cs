namespace EdgeSelector.Storage.Models;

/// <summary>
/// Declares a visitor type that reads a <see cref="ModelStore"/>, in <see cref="ModelStoreOptions.Readers"/>. A FASTER
/// session's output type is fixed, so every visitor type reads through a pool of sessions of its own (up to
/// <see cref="ModelStoreOptions.SessionPoolSize"/> idle sessions, each with its own epoch slot). The pools are made
/// when the store opens, one per declared type; a read with a type that was not declared throws
/// <see cref="InvalidOperationException"/> instead of quietly creating another pool on the request path.
/// </summary>
public sealed class ModelReader
{
    private ModelReader(int typeId, string name, Func<ModelStore, IDisposable> createPool)
    {
        TypeId = typeId;
        Name = name;
        CreatePool = createPool;
    }

    /// <summary>The visitor type's name (for messages).</summary>
    public string Name { get; }

    internal int TypeId { get; }

    internal Func<ModelStore, IDisposable> CreatePool { get; }

    /// <summary>Declares <typeparamref name="TVisitor"/> as a reader of the store.</summary>
    public static ModelReader For<TVisitor>()
        where TVisitor : struct, IModelVisitor =>
        new(ModelStore.VisitorTypeId<TVisitor>.Value, typeof(TVisitor).Name, static store => store.CreateReadPool<TVisitor>());
}
