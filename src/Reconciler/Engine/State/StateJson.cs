using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Live;

namespace Reconciler.State;

/// <summary>How the stores serialize stored values: written with ReconcilerJson (compact); read with dictionaries on
/// the ordinal comparer the rest of the product sorts by (System.Text.Json would otherwise use the default comparer).</summary>
internal static class StateJson
{
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, ReconcilerJson.Compact.InfoFor<T>());
    public static byte[] SerializeBytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, ReconcilerJson.Compact.InfoFor<T>());

    /// <summary>The bytes of <see cref="SerializeBytes{T}"/>, appended to <paramref name="utf8"/>.</summary>
    public static void SerializeTo<T>(Stream utf8, T value) => JsonSerializer.Serialize(utf8, value, ReconcilerJson.Compact.InfoFor<T>());

    /// <summary>Parses a stored value; a value that does not parse is corrupt state, reported with where it was found.</summary>
    public static T Deserialize<T>(string json, string where)
    {
        if (typeof(T) == typeof(LiveService)) return Deserialize<T>(System.Text.Encoding.UTF8.GetBytes(json), where);
        try
        {
            return JsonSerializer.Deserialize(json, StateJsonContext.Reading.InfoFor<T>())
                   ?? throw new JsonException("the value is null");
        }
        catch (JsonException e)
        {
            throw Corrupt<T>(where, e);
        }
    }

    /// <summary>As <see cref="Deserialize{T}(string, string)"/>, from the stored UTF-8; a service is read straight from
    /// the bytes, strictly (text that is not UTF-8 is corrupt state).</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> utf8, string where)
    {
        if (typeof(T) != typeof(LiveService)) return Deserialize<T>(System.Text.Encoding.UTF8.GetString(utf8), where);
        try
        {
            return (T)(object)LiveServiceReader.Read(utf8);
        }
        catch (JsonException e)
        {
            throw Corrupt<T>(where, e);
        }
    }

    private static StateStoreUnavailableException Corrupt<T>(string where, JsonException e) => new(
        $"stored value at {where} is not valid {typeof(T).Name} JSON ({e.Message}). The store was changed by hand or by an " +
        "incompatible version; fix or remove that value. Nothing was written.", e);

    /// <summary>Parses an environment's stored services (keyed by service name) on every core: it holds thousands. The
    /// first bad value in list order is the one reported, as a sequential read would. With a memo, each service is
    /// marked with the memo's digest of its bytes, and those whose bytes an entry lists are left undecoded: the caller
    /// passes only entries of services the plan settles without reading them (<see cref="ConvergedMemoMatch"/>), and
    /// an entry is made only from bytes that decoded. Every other service is decoded here, so a corrupt one is
    /// reported by the read.</summary>
    public static List<LiveService> ReadServices(IReadOnlyList<(string Name, byte[] Body)> bodies, Func<string, string> where, ConvergedMemo? memo)
    {
        var values = new LiveService[bodies.Count];
        var errors = new Exception?[bodies.Count];
        Parallel.For(0, bodies.Count, i =>
        {
            var (name, body) = bodies[i];
            try
            {
                if (memo is null)
                {
                    values[i] = Deserialize<LiveService>(body, where(name));
                    return;
                }
                var digest = memo.Digest(body);
                values[i] = memo.MayMatch(name, digest)
                    ? LiveService.Deferred(name, digest, () => Deserialize<LiveService>(body, where(name)))
                    : Deserialize<LiveService>(body, where(name)).FromStoredBytes(digest);
            }
            catch (StateStoreUnavailableException e) { errors[i] = e; }
        });
        if (Array.Find(errors, e => e is not null) is { } first) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        return [.. values];
    }

    public static LiveState BuildState(string env, long version, IEnumerable<LiveService> services, IEnumerable<LiveToggle> toggles, string? lastGood) =>
        new(env, version,
            services.ToImmutableSortedDictionary(s => s.Name, s => s, StringComparer.Ordinal),
            toggles.ToImmutableSortedDictionary(t => t.Name, t => t, StringComparer.Ordinal),
            lastGood);
}
