using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// A compact binary form of one file's typed definition (RepositorySpec, EnvironmentSpec, ServiceDefinition,
/// ToggleDefinition), stored in the parse cache so a warm load skips the JSON tree and the model reader altogether.
/// Written by hand rather than with System.Text.Json: decoding 5,000 service definitions must cost a few tens of
/// milliseconds (docs/benchmarks/repo.md), and the model's sorted dictionaries need their ordinal comparer back.
/// Locations are stored without their path (the same blob can sit at another path) and get it on reading.
/// A change to any model record must change this file too; a test pins the records' shapes so that it is not
/// forgotten. (Cache entries are bound to this assembly's build, so old entries never meet a new codec.)
/// </summary>
internal static class ModelCodec
{
    public static void Write(ModelWriter w, object definition)
    {
        switch (definition)
        {
            case RepositorySpec r:
                w.Byte(1);
                w.NullableString(r.StateUrl);
                WriteDefaults(w, r.Defaults);
                w.Count(r.Notifications.Length);
                foreach (var hook in r.Notifications)
                {
                    w.String(hook.Url);
                    w.Count(hook.Events.Length);
                    foreach (var e in hook.Events) w.Int((int)e);
                }
                w.Bool(r.SelfHeal);
                WriteLocation(w, r.Location);
                w.Bool(r.ToggleRemovableAfter is not null);
                if (r.ToggleRemovableAfter is { } removableAfter) w.Long(removableAfter.Ticks);
                break;
            case EnvironmentSpec e:
                w.Byte(2);
                w.String(e.Name);
                WriteStrings(w, e.Regions);
                w.Count(e.HostGroups.Count);
                foreach (var (name, group) in e.HostGroups)
                {
                    w.String(name);
                    w.String(group.Name);
                    w.Count(group.Hosts.Length);
                    foreach (var h in group.Hosts)
                    {
                        w.String(h.Name);
                        w.String(h.Address);
                        w.Int(h.Port);
                        w.String(h.User);
                        w.NullableString(h.HostKey);
                        w.NullableString(h.Region);
                        WriteStringMap(w, h.Vars);
                    }
                    WriteCatalog(w, group.Catalog);
                    WriteLocation(w, group.Location);
                }
                w.Count(e.FreezeWindows.Length);
                foreach (var f in e.FreezeWindows)
                {
                    WriteTimestamp(w, f.Start);
                    WriteTimestamp(w, f.End);
                    w.String(f.Reason);
                }
                WriteOnFailure(w, e.OnFailure);
                WriteLocation(w, e.Location);
                break;
            case ServiceDefinition s:
                w.Byte(3);
                w.String(s.Name);
                WriteSpec(w, s.Base);
                w.Count(s.Overrides.Count);
                foreach (var (environment, o) in s.Overrides)
                {
                    w.String(environment);
                    WriteOptionalBool(w, o.Enabled);
                    w.NullableString(o.Version);
                    w.Bool(o.Artifact is not null);
                    if (o.Artifact is not null) WriteArtifact(w, o.Artifact);
                    w.NullableString(o.HostGroup);
                    w.Bool(o.Deploy is not null);
                    if (o.Deploy is not null) WriteDeploy(w, o.Deploy);
                    w.Bool(o.Strategy is not null);
                    if (o.Strategy is not null) WriteStrategy(w, o.Strategy);
                    w.Bool(o.Health is not null);
                    if (o.Health is not null) WriteHealth(w, o.Health);
                    WriteConfig(w, o.Config);
                    WriteOnFailure(w, o.OnFailure);
                }
                WriteLocation(w, s.Location);
                break;
            case ToggleDefinition t:
                w.Byte(4);
                w.String(t.Name);
                w.NullableString(t.Description);
                w.Count(t.Environments.Count);
                foreach (var (environment, on) in t.Environments)
                {
                    w.String(environment);
                    w.Bool(on);
                }
                WriteStringMap(w, t.Requires);
                WriteLocation(w, t.Location);
                break;
            default:
                throw new ArgumentException($"not a file definition: {definition.GetType().Name}", nameof(definition));
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote; <paramref name="path"/> goes into every location.</summary>
    public static object Read(ref ModelReaderSpan r, string path)
    {
        switch (r.Byte())
        {
            case 1:
            {
                var stateUrl = r.NullableString();
                var defaults = ReadDefaults(ref r);
                var hooks = ImmutableArray.CreateBuilder<NotificationHook>(r.Count());
                for (var i = hooks.Capacity; i > 0; i--)
                {
                    var url = r.String();
                    var events = ImmutableArray.CreateBuilder<NotificationEvent>(r.Count());
                    for (var j = events.Capacity; j > 0; j--) events.Add((NotificationEvent)r.Int());
                    hooks.Add(new NotificationHook(url, events.MoveToImmutable()));
                }
                var selfHeal = r.Bool();
                var location = ReadLocation(ref r, path);
                var removableAfter = r.Bool() ? TimeSpan.FromTicks(r.Long()) : (TimeSpan?)null;
                return new RepositorySpec(stateUrl, defaults, hooks.MoveToImmutable(), location, removableAfter) { SelfHeal = selfHeal };
            }
            case 2:
            {
                var name = r.String();
                var regions = ReadStrings(ref r);
                var groups = ImmutableSortedDictionary.CreateBuilder<string, HostGroup>(StringComparer.Ordinal);
                for (var i = r.Count(); i > 0; i--)
                {
                    var key = r.String();
                    var groupName = r.String();
                    var hosts = ImmutableArray.CreateBuilder<HostSpec>(r.Count());
                    for (var j = hosts.Capacity; j > 0; j--)
                        hosts.Add(new HostSpec(r.String(), r.String(), r.Int(), r.String(), r.NullableString(), r.NullableString(), ReadStringMap(ref r)));
                    groups[key] = new HostGroup(groupName, hosts.MoveToImmutable()) { Catalog = ReadCatalog(ref r), Location = ReadLocation(ref r, path) };
                }
                var windows = ImmutableArray.CreateBuilder<FreezeWindow>(r.Count());
                for (var i = windows.Capacity; i > 0; i--)
                    windows.Add(new FreezeWindow(ReadTimestamp(ref r), ReadTimestamp(ref r), r.String()));
                return new EnvironmentSpec(name, regions, groups.ToImmutable(), windows.MoveToImmutable(), ReadOnFailure(ref r), ReadLocation(ref r, path));
            }
            case 3:
            {
                var name = r.String();
                var spec = ReadSpec(ref r, path);
                var overrides = ImmutableSortedDictionary.CreateBuilder<string, ServiceOverride>(StringComparer.Ordinal);
                for (var i = r.Count(); i > 0; i--)
                {
                    var environment = r.String();
                    overrides[environment] = new ServiceOverride(
                        ReadOptionalBool(ref r),
                        r.NullableString(),
                        r.Bool() ? ReadArtifact(ref r) : null,
                        r.NullableString(),
                        r.Bool() ? ReadDeploy(ref r) : null,
                        r.Bool() ? ReadStrategy(ref r) : null,
                        r.Bool() ? ReadHealth(ref r) : null,
                        ReadConfig(ref r),
                        ReadOnFailure(ref r));
                }
                return new ServiceDefinition(name, spec, overrides.ToImmutable(), ReadLocation(ref r, path));
            }
            case 4:
            {
                var name = r.String();
                var description = r.NullableString();
                var environments = ImmutableSortedDictionary.CreateBuilder<string, bool>(StringComparer.Ordinal);
                for (var i = r.Count(); i > 0; i--) environments[r.String()] = r.Bool();
                return new ToggleDefinition(name, description, environments.ToImmutable(), ReadStringMap(ref r), ReadLocation(ref r, path));
            }
            default:
                throw new FormatException("unknown definition tag");
        }
    }

    private static void WriteSpec(ModelWriter w, ServiceSpec s)
    {
        w.String(s.Name);
        w.Bool(s.Enabled);
        w.String(s.Version);
        WriteArtifact(w, s.Artifact);
        WriteStrings(w, s.DependsOn);
        w.String(s.HostGroup);
        WriteDeploy(w, s.Deploy);
        WriteStrategy(w, s.Strategy);
        WriteHealth(w, s.Health);
        WriteConfig(w, s.Config);
        WriteOnFailure(w, s.OnFailure);
        WriteLocation(w, s.Location);
    }

    private static ServiceSpec ReadSpec(ref ModelReaderSpan r, string path) => new(
        r.String(), r.Bool(), r.String(), ReadArtifact(ref r), ReadStrings(ref r), r.String(), ReadDeploy(ref r),
        ReadStrategy(ref r), ReadHealth(ref r), ReadConfig(ref r), ReadOnFailure(ref r), ReadLocation(ref r, path));

    private static void WriteDefaults(ModelWriter w, Defaults d)
    {
        w.Int(d.KeepReleases);
        w.Int((int)d.OnFailure);
        WriteStrategy(w, d.Strategy);
        WriteHealth(w, d.Health);
    }

    private static Defaults ReadDefaults(ref ModelReaderSpan r) =>
        new(r.Int(), (OnFailure)r.Int(), ReadStrategy(ref r), ReadHealth(ref r));

    /// <summary>A service definition is read with the repository's defaults filled in, so a cached one is only
    /// valid under the same defaults: this fingerprint is stored beside it.</summary>
    public static string DefaultsFingerprint(Defaults defaults)
    {
        var w = new ModelWriter();
        WriteDefaults(w, defaults);
        // FNV-1a over a hundred bytes: stable across processes, and no crypto library to load for a cache key.
        var hash = 14695981039346656037UL;
        foreach (var b in w.WrittenSpan) hash = (hash ^ b) * 1099511628211UL;
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void WriteArtifact(ModelWriter w, ArtifactSpec a)
    {
        w.String(a.Url);
        w.String(a.Sha256);
    }

    private static ArtifactSpec ReadArtifact(ref ModelReaderSpan r) => new(r.String(), r.String());

    private static void WriteDeploy(ModelWriter w, DeploySpec d)
    {
        w.Int((int)d.Driver);
        w.String(d.Path);
        w.NullableString(d.RestartCommand);
        w.NullableString(d.StopCommand);
        w.Int(d.KeepReleases);
        w.Bool(d.Hooks is not null);
        if (d.Hooks is not { } hooks) return;
        w.NullableString(hooks.BeforeSwitch);
        w.NullableString(hooks.AfterSwitch);
        w.NullableString(hooks.AfterGate);
        w.Long(hooks.Timeout.Ticks);
    }

    private static DeploySpec ReadDeploy(ref ModelReaderSpan r) =>
        new((DriverKind)r.Int(), r.String(), r.NullableString(), r.NullableString(), r.Int(),
            r.Bool() ? new LifecycleHooks(r.NullableString(), r.NullableString(), r.NullableString(), TimeSpan.FromTicks(r.Long())) : null);

    private static void WriteStrategy(ModelWriter w, StrategySpec s)
    {
        w.Int((int)s.Kind);
        w.Int(s.MaxParallel.Value);
        w.Bool(s.MaxParallel.IsPercent);
        w.Int(s.CanaryHosts);
    }

    private static StrategySpec ReadStrategy(ref ModelReaderSpan r) =>
        new((StrategyKind)r.Int(), new MaxParallel(r.Int(), r.Bool()), r.Int());

    private static void WriteHealth(ModelWriter w, HealthSpec h)
    {
        w.Count(h.Checks.Length);
        foreach (var c in h.Checks)
        {
            w.Int((int)c.Kind);
            w.NullableString(c.Url);
            WriteOptionalInt(w, c.ExpectStatus);
            w.NullableString(c.Address);
            WriteOptionalInt(w, c.Port);
            w.NullableString(c.Command);
            w.NullableString(c.ConsulService);
            w.Long(c.Timeout.Ticks);
        }
        w.Long(h.Interval.Ticks);
        w.Int(h.ConsecutivePasses);
        w.Long(h.MinHealthy.Ticks);
        w.Long(h.Deadline.Ticks);
        WriteOptionalInt(w, h.FailureThreshold);
        w.Long(h.InitialDelay.Ticks);
    }

    private static HealthSpec ReadHealth(ref ModelReaderSpan r)
    {
        var checks = ImmutableArray.CreateBuilder<HealthCheckSpec>(r.Count());
        for (var i = checks.Capacity; i > 0; i--)
            checks.Add(new HealthCheckSpec((HealthCheckKind)r.Int(), r.NullableString(), ReadOptionalInt(ref r), r.NullableString(),
                ReadOptionalInt(ref r), r.NullableString(), r.NullableString(), TimeSpan.FromTicks(r.Long())));
        return new HealthSpec(checks.MoveToImmutable(), TimeSpan.FromTicks(r.Long()), r.Int(), TimeSpan.FromTicks(r.Long()), TimeSpan.FromTicks(r.Long()),
            ReadOptionalInt(ref r), TimeSpan.FromTicks(r.Long()));
    }

    private static void WriteConfig(ModelWriter w, ImmutableSortedDictionary<string, ConfigValue> config)
    {
        w.Count(config.Count);
        foreach (var (key, value) in config)
        {
            w.String(key);
            switch (value)
            {
                case ConfigValue.Literal literal: w.Byte(0); w.String(literal.Value); break;
                case ConfigValue.Secret secret: w.Byte(1); w.String(secret.Reference); break;
                default: throw new ArgumentException($"unknown config value {value.GetType().Name}");
            }
        }
    }

    private static ImmutableSortedDictionary<string, ConfigValue> ReadConfig(ref ModelReaderSpan r)
    {
        var count = r.Count();
        if (count == 0) return ImmutableSortedDictionary.Create<string, ConfigValue>(StringComparer.Ordinal);
        var builder = ImmutableSortedDictionary.CreateBuilder<string, ConfigValue>(StringComparer.Ordinal);
        for (var i = count; i > 0; i--)
        {
            var key = r.String();
            builder[key] = r.Byte() switch
            {
                0 => new ConfigValue.Literal(r.String()),
                1 => new ConfigValue.Secret(r.String()),
                _ => throw new FormatException("unknown config value tag"),
            };
        }
        return builder.ToImmutable();
    }

    private static void WriteStrings(ModelWriter w, ImmutableArray<string> items)
    {
        w.Count(items.Length);
        foreach (var item in items) w.String(item);
    }

    private static ImmutableArray<string> ReadStrings(ref ModelReaderSpan r)
    {
        var builder = ImmutableArray.CreateBuilder<string>(r.Count());
        for (var i = builder.Capacity; i > 0; i--) builder.Add(r.String());
        return builder.MoveToImmutable();
    }

    private static void WriteStringMap(ModelWriter w, ImmutableSortedDictionary<string, string> map)
    {
        w.Count(map.Count);
        foreach (var (key, value) in map)
        {
            w.String(key);
            w.String(value);
        }
    }

    private static ImmutableSortedDictionary<string, string> ReadStringMap(ref ModelReaderSpan r)
    {
        var builder = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        for (var i = r.Count(); i > 0; i--)
        {
            var key = r.String();
            builder[key] = r.String();
        }
        return builder.ToImmutable();
    }

    private static void WriteLocation(ModelWriter w, SourceLocation? location)
    {
        w.Bool(location is not null);
        if (location is null) return;
        w.Int(location.Line);
        w.Int(location.Column);
    }

    private static SourceLocation? ReadLocation(ref ModelReaderSpan r, string path) =>
        r.Bool() ? new SourceLocation(path, r.Int(), r.Int()) : null;

    // A catalog host group's source; the resolved index is never cached (it exists only after plan-time resolution).
    private static void WriteCatalog(ModelWriter w, CatalogSource? c)
    {
        w.Bool(c is not null);
        if (c is null) return;
        w.String(c.Service);
        w.NullableString(c.Tag);
        w.NullableString(c.Datacenter);
        w.Bool(c.PassingOnly);
        w.NullableString(c.KnownHosts);
    }

    private static CatalogSource? ReadCatalog(ref ModelReaderSpan r) =>
        r.Bool() ? new CatalogSource(r.String(), r.NullableString(), r.NullableString(), r.Bool(), r.NullableString()) : null;

    private static void WriteTimestamp(ModelWriter w, DateTimeOffset t)
    {
        w.Long(t.UtcTicks);
        w.Int((int)t.Offset.TotalMinutes);
    }

    private static DateTimeOffset ReadTimestamp(ref ModelReaderSpan r)
    {
        var utcTicks = r.Long();
        var offset = TimeSpan.FromMinutes(r.Int());
        return new DateTimeOffset(utcTicks + offset.Ticks, offset);
    }

    private static void WriteOnFailure(ModelWriter w, OnFailure? value) => w.Int(value is null ? -1 : (int)value);

    private static OnFailure? ReadOnFailure(ref ModelReaderSpan r) => r.Int() is var v && v < 0 ? null : (OnFailure)v;

    private static void WriteOptionalBool(ModelWriter w, bool? value) => w.Byte(value is null ? (byte)2 : value.Value ? (byte)1 : (byte)0);

    private static bool? ReadOptionalBool(ref ModelReaderSpan r) => r.Byte() switch
    {
        0 => false,
        1 => true,
        2 => null,
        _ => throw new FormatException("bad optional bool"),
    };

    private static void WriteOptionalInt(ModelWriter w, int? value)
    {
        w.Bool(value is not null);
        if (value is not null) w.Int(value.Value);
    }

    private static int? ReadOptionalInt(ref ModelReaderSpan r) => r.Bool() ? r.Int() : null;
}

/// <summary>Appends little-endian numbers and length-prefixed UTF-8 strings to a growable buffer.</summary>
internal sealed class ModelWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public void Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public void Int(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void Count(int value) => Int(value);

    public void Long(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        Int(bytes.Length);
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
    }

    public void String(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        Int(length);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
    }

    public void NullableString(string? value)
    {
        if (value is null) Int(-1);
        else String(value);
    }
}

/// <summary>Reads what <see cref="ModelWriter"/> wrote; any overrun or bad length throws <see cref="FormatException"/>
/// (the caller treats the entry as a cache miss).</summary>
internal ref struct ModelReaderSpan(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool AtEnd => _position == _data.Length;

    /// <summary>How many bytes have been read.</summary>
    public readonly int Position => _position;

    private ReadOnlySpan<byte> Take(int length)
    {
        if (length < 0 || length > _data.Length - _position) throw new FormatException("truncated cache entry");
        var slice = _data.Slice(_position, length);
        _position += length;
        return slice;
    }

    public byte Byte() => Take(1)[0];

    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        _ => throw new FormatException("bad bool"),
    };

    public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public int Count()
    {
        var n = Int();
        // Every counted item takes at least one byte: a count beyond the rest of the entry is damage, not a size.
        if (n < 0 || n > _data.Length - _position) throw new FormatException("bad count");
        return n;
    }

    public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ReadOnlySpan<byte> Bytes() => Take(Int());

    public string String() => Encoding.UTF8.GetString(Take(Int()));

    public string? NullableString()
    {
        var length = Int();
        return length == -1 ? null : Encoding.UTF8.GetString(Take(length));
    }
}
