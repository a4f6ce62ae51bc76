using System.Buffers.Binary;
using TapeGateway.Core.Scsi;
using TapeGateway.Scsi.Sense;
using TapeGateway.Scsi.Tests.Spc;

namespace TapeGateway.Scsi.Tests.Ssc;

/// <summary>
/// Runs generated commands against the drive and the <see cref="TapeModel"/> side by side: status, sense key, ASC/ASCQ,
/// FM/EOM/ILI, VALID + INFORMATION and Data-In after every command, then READ POSITION (short, long or extended form in
/// turn: BOP, EOP, BPEW, object number, file number). A failure names the seed, the operation index, the model and the
/// operations before it, enough to replay the sequence.
/// </summary>
internal static class TapeModelRunner
{
    private const int HistoryShown = 12;

    /// <summary>Returns how often each outcome kind (<see cref="Outcome.Kind"/>) came up.</summary>
    public static async Task<Dictionary<string, int>> RunAsync(TapeHarness h, TapeModel model, int seed, int operations, Func<TapeModel, Operation> next)
    {
        var history = new Queue<string>();
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < operations; i++)
        {
            var op = next(model);
            var before = model.Describe();
            var expected = op.Apply(model);
            model.AfterCommand();
            var task = await h.Run(op.Cdb, op.DataOut, expected: op.ExpectedLength);
            var failure = Compare(task, expected);
            history.Enqueue($"#{i} {op.Text} at {before} -> {Summarise(task)}");
            if (history.Count > HistoryShown)
            {
                history.Dequeue();
            }

            failure ??= await ComparePositionAsync(h, model, i);
            if (failure is not null)
            {
                Assert.Fail(
                    $"seed {seed}, operation #{i} ({op.Text}): {failure}{Environment.NewLine}" +
                    $"model now: {model.Describe()}{Environment.NewLine}" +
                    $"expected: {expected}{Environment.NewLine}" +
                    $"last operations (model before each, drive's answer):{Environment.NewLine}  " +
                    string.Join(Environment.NewLine + "  ", history));
            }

            outcomes[expected.Kind] = outcomes.GetValueOrDefault(expected.Kind) + 1;
        }

        return outcomes;
    }

    /// <summary>
    /// Asserts the sequence reached each of <paramref name="kinds"/> ("A|B": either), so a seed cannot pass on the easy
    /// paths alone.
    /// </summary>
    public static void AssertReached(Dictionary<string, int> outcomes, int seed, params string[] kinds)
    {
        foreach (var kind in kinds)
        {
            Assert.True(
                kind.Split('|').Any(k => outcomes.GetValueOrDefault(k) > 0),
                $"seed {seed}: no {kind} outcome ({string.Join(", ", outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value}"))})");
        }
    }

    private static string? Compare(ScsiTask task, Outcome expected)
    {
        if (expected.Key is null)
        {
            if (task.Status != ScsiStatus.Good)
            {
                return $"expected GOOD, drive answered {Summarise(task)}";
            }
        }
        else
        {
            if (task.Status != ScsiStatus.CheckCondition)
            {
                return $"expected CHECK CONDITION {expected}, drive answered {task.Status}";
            }

            var (key, asc, ascq) = SenseDataBuilder.Parse(task.Sense);
            if ((key, asc, ascq) != (expected.Key.Value, expected.Asc, expected.Ascq))
            {
                return $"sense {key} {asc:X2}/{ascq:X2}, expected {expected.Key} {expected.Asc:X2}/{expected.Ascq:X2}";
            }

            if (task.Flags() != expected.Flags)
            {
                return $"sense flags {task.Flags()}, expected {expected.Flags}";
            }

            if (task.Information() != expected.Information)
            {
                return $"VALID/INFORMATION {Outcome.Show(task.Information())}, expected {Outcome.Show(expected.Information)}";
            }
        }

        if (!task.DataIn.Span.SequenceEqual(expected.Data))
        {
            return $"Data-In of {task.DataIn.Length} bytes differs from the expected {expected.Data.Length}";
        }

        return null;
    }

    /// <summary>READ POSITION in the short (00h), long (06h) or extended (08h) form, in turn.</summary>
    private static async Task<string?> ComparePositionAsync(TapeHarness h, TapeModel model, int index)
    {
        var position = model.Position;

        // SSC-4 READ POSITION byte 0: BOP (7), EOP (6) between early warning and the end of the partition, BPEW (0)
        // past programmable early warning; the object buffer is always empty (the drive writes through).
        var flags = (byte)((position == 0 ? 0x80 : 0) | (model.BeyondEarlyWarning ? 0x40 : 0) | (model.BeyondPew ? 0x01 : 0));
        var form = (index % 4) switch { 0 => (byte)0x00, 2 => (byte)0x08, _ => (byte)0x06 };
        var t = await h.Run(Cdb.ReadPosition(form, allocation: (ushort)(form == 0x08 ? 32 : 0)));
        if (t.Status != ScsiStatus.Good)
        {
            return $"READ POSITION {form:X2}h answered {Summarise(t)}";
        }

        var d = t.DataIn.Span;
        var expected = new byte[form == 0x00 ? 20 : 32];
        expected[0] = flags;
        switch (form)
        {
            case 0x00:
                // FIRST and LAST LOGICAL OBJECT LOCATION: both the position, as nothing is buffered.
                BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(4), (uint)position);
                BinaryPrimitives.WriteUInt32BigEndian(expected.AsSpan(8), (uint)position);
                break;
            case 0x06:
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(8), position);
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(16), model.FilemarksBefore(position));
                break;
            default:
                BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(2), 0x1C);
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(8), position);
                BinaryPrimitives.WriteInt64BigEndian(expected.AsSpan(16), position);
                break;
        }

        return d.SequenceEqual(expected)
            ? null
            : $"READ POSITION {form:X2}h returned {Convert.ToHexString(d)}, expected {Convert.ToHexString(expected)}";
    }

    private static string Summarise(ScsiTask task)
    {
        if (task.Status != ScsiStatus.CheckCondition)
        {
            return $"{task.Status}, {task.DataIn.Length} bytes in";
        }

        var (key, asc, ascq) = SenseDataBuilder.Parse(task.Sense);
        return $"{key} {asc:X2}/{ascq:X2} [{task.Flags()}] {Outcome.Show(task.Information())}, {task.DataIn.Length} bytes in";
    }
}
