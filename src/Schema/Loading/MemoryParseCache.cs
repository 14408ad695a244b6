using System.Collections.Concurrent;

namespace Reconciler.Schema.Loading;

/// <summary>A parse cache that lives as long as the process (the daemon keeps one across commits). Thread-safe.</summary>
public sealed class MemoryParseCache : IParseCache
{
    private readonly ConcurrentDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public bool TryGet(string contentId, out ReadOnlyMemory<byte> entry)
    {
        if (_entries.TryGetValue(contentId, out var found))
        {
            entry = found;
            return true;
        }
        entry = default;
        return false;
    }

    public void Put(string contentId, byte[] entry) => _entries[contentId] = entry;
}
