using System.Diagnostics.Tracing;
using System.Globalization;
using TapeGateway.Benchmarks.Harness;

namespace TapeGateway.Benchmarks;

/// <summary>
/// <c>probe lu|iscsi|iscsi-read memory|file|tiered BYTES DEPTH COUNT [attribute]</c>: runs the WRITE(6) steady state of the
/// benchmarks (or READ(6) at queue depth 1 of a tape written once) outside BenchmarkDotNet, prints bytes allocated per
/// command (process-wide, GC.GetTotalAllocatedBytes(precise)), commands per second and process CPU per command,
/// and with <c>attribute</c> samples the runtime's GCAllocationTick events (one per ~100 KB allocated, with the type
/// that crossed the threshold) to say which types those bytes are. Attribution, not a gate: the gate tests measure.
/// </summary>
internal static class AllocationProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var path = args.Length > 0 ? args[0] : "lu";
        var store = args.Length > 1 ? args[1] switch { "file" => RigStore.File, "tiered" => RigStore.Tiered, _ => RigStore.Memory } : RigStore.Memory;
        var bytes = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 262144;
        var depth = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 4;
        var count = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 20_000;
        var attribute = args.Contains("attribute");
        var capacity = 4L * TapeDriveRig.RewindEvery * bytes;

        Func<int, ValueTask<int>> run;
        IAsyncDisposable rig;
        if (path == "iscsi-read")
        {
            // Fill the tape once (every record the same size), then each run rewinds and reads `n` records back.
            var r = await IscsiTapeRig.CreateAsync(await DriveAsync(store, capacity), bytes, depth);
            long sequence = 0;
            var records = Math.Min(TapeDriveRig.RewindEvery - 1, 200);
            r.Initiator.WriteBurst(1, bytes, records, 4, ref sequence, rewindEvery: 0);
            run = n =>
            {
                var failures = 0;
                for (var done = 0; done < n; done += records)
                {
                    failures += r.Initiator.ReadBurst(1, bytes, Math.Min(records, n - done));
                }

                return ValueTask.FromResult(failures);
            };
            rig = r;
        }
        else if (path == "iscsi")
        {
            var r = await IscsiTapeRig.CreateAsync(await DriveAsync(store, capacity), bytes, depth);
            long sequence = 0;
            run = n => ValueTask.FromResult(r.Initiator.WriteBurst(1, bytes, n, depth, ref sequence, TapeDriveRig.RewindEvery));
            rig = r;
        }
        else
        {
            var r = await DriveAsync(store, capacity);
            run = n => r.WriteAsync(bytes, n, depth);
            rig = r;
        }

        try
        {
            var failures = await run(4 * TapeDriveRig.RewindEvery); // warm-up: tiering, pools, every buffer grown
            for (var round = 0; round < 3; round++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                failures += await run(count);
                var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
                var perCommand = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{path} {store} {bytes} B depth {depth}: {perCommand:F1} B/command over {count} commands, {count / elapsed.TotalSeconds:F0} commands/s, {cpu.TotalMicroseconds / count:F0} us CPU/command (initiator included), failures {failures}"));
            }

            if (attribute)
            {
                using var listener = new AllocationTickListener();
                await run(count);
                listener.Print(count);
            }

            return failures == 0 ? 0 : 1;
        }
        finally
        {
            await rig.DisposeAsync();
        }
    }

    private sealed class AllocationTickListener : EventListener
    {
        private readonly Dictionary<string, long> _bytes = [];
        private readonly Lock _lock = new();

        public void Print(int commands)
        {
            lock (_lock)
            {
                Console.WriteLine("sampled allocations (GCAllocationTick, ~100 KB each), estimated bytes per command:");
                foreach (var (type, total) in _bytes.OrderByDescending(p => p.Value).Take(25))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {total / (double)commands,8:F1}  {type}"));
                }
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick is verbose
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.PayloadNames is null)
            {
                return;
            }

            var type = eventData.Payload![eventData.PayloadNames.IndexOf("TypeName")] as string ?? "?";
            var amount = Convert.ToInt64(eventData.Payload[eventData.PayloadNames.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
            lock (_lock)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
            }
        }
    }

    private static Task<TapeDriveRig> DriveAsync(RigStore store, long capacity) =>
        store == RigStore.Tiered
            ? TieredTapeRig.CreateDriveAsync(capacity, compression: false)
            : TapeDriveRig.CreateAsync(store, capacity, compression: false);
}
