using System.Diagnostics.CodeAnalysis;
using System.Collections.Concurrent;

namespace AslCuda.Gpu;

/// <summary>
/// A value created on first use and kept once it was created. Unlike <see cref="Lazy{T}"/>, a failure is not
/// remembered: the exception goes to the caller and the next call tries again, so one transient failure (an
/// out-of-memory, a driver hiccup) does not break the process for good.
/// </summary>
internal sealed class Once<T>(Func<T> create)
{
    private readonly Lock _lock = new();
    private volatile Box? _created;

    private sealed record Box(T Value);

    public T Value
    {
        get
        {
            if (_created is { } done) return done.Value;
            lock (_lock)
            {
                _created ??= new Box(create());
                return _created.Value;
            }
        }
    }

    public bool IsCreated => _created is not null;
}

/// <summary>Per-key values created once (one creation at a time per key); a failed creation is evicted so the next call retries.</summary>
internal static class OnceCache
{
    // The annotation is Lazy<T>'s own (its parameterless constructor makes a T); the trimmed GPU check needs it stated.
    public static TValue Get<TKey, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TValue>(
        ConcurrentDictionary<TKey, Lazy<TValue>> cache, TKey key, Func<TKey, TValue> create)
        where TKey : notnull
    {
        var entry = cache.GetOrAdd(key, k => new Lazy<TValue>(() => create(k)));
        try
        {
            return entry.Value;
        }
        catch
        {
            cache.TryRemove(new KeyValuePair<TKey, Lazy<TValue>>(key, entry));   // only this failed entry, not a newer one
            throw;
        }
    }
}
