using System.Buffers.Binary;
using System.Threading.Channels;
using TapeGateway.Core.Scsi;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests.Initiator;

public sealed partial class TestInitiator
{
    private const byte ReadFlag = 0x40;
    private const byte WriteFlag = 0x20;
    private const byte StatusFlag = 0x01;
    private const byte UnderflowFlag = 0x02;
    private const byte OverflowFlag = 0x04;

    /// <summary>
    /// Runs one SCSI command to completion: immediate data and unsolicited Data-Out as negotiated, Data-Out for every
    /// R2T, Data-In collected with DataSN/offset/burst checks, status from the final Data-In or the SCSI Response.
    /// </summary>
    public async Task<ScsiResult> ExecuteAsync(
        ushort lun, byte[] cdb, ReadOnlyMemory<byte> dataOut = default, int expectedDataIn = 0, CommandOptions? options = null)
    {
        await using var command = await StartCommandAsync(lun, cdb, dataOut, expectedDataIn, options);
        return await command.Completion;
    }

    /// <summary>Sends a SCSI Command (RFC 7143 §11.3) and returns the in-flight handle.</summary>
    public async Task<ScsiCommand> StartCommandAsync(
        ushort lun, byte[] cdb, ReadOnlyMemory<byte> dataOut = default, int expectedDataIn = 0, CommandOptions? options = null)
    {
        var negotiated = Negotiated ?? throw new InvalidOperationException("not logged in");
        if (cdb.Length > 16)
        {
            throw new NotSupportedException("extended CDBs (AHS) are not implemented in the test initiator");
        }

        options ??= new CommandOptions();
        var write = !dataOut.IsEmpty;
        var read = expectedDataIn > 0;
        var edtl = options.ExpectedDataTransferLength ?? (uint)(write ? dataOut.Length : expectedDataIn);
        var maxPdu = negotiated.TargetMaxRecvDataSegmentLength;
        var immediateLength = write && negotiated.ImmediateData
            ? Math.Min(dataOut.Length, Math.Min(negotiated.FirstBurstLength, maxPdu))
            : 0;
        var unsolicitedEnd = write && !negotiated.InitialR2T
            ? Math.Min(dataOut.Length, negotiated.FirstBurstLength)
            : immediateLength;

        var itt = AllocateItt();
        var pdus = Register(itt);
        var flags = (byte)(options.Attribute & 0x07);
        if (unsolicitedEnd <= immediateLength)
        {
            flags |= Bhs.FinalBit;
        }

        if (read)
        {
            flags |= ReadFlag;
        }

        if (write)
        {
            flags |= WriteFlag;
        }

        var bhs = NewBhs(IscsiOpcode.ScsiCommand, options.Immediate, flags, itt);
        WriteLun(bhs, lun);
        Bhs.SetWord(bhs, Bhs.Word20, edtl);
        uint cmdSn;
        ScsiCommand command;
        var dataOutPdus = 0;
        await _sendLock.WaitAsync();
        try
        {
            cmdSn = options.CmdSn ?? TakeCmdSn(options.Immediate);
            command = new ScsiCommand(this, itt, cmdSn, lun);
            Bhs.SetWord(bhs, Bhs.Word24, cmdSn);
            cdb.CopyTo(bhs, 32);
            WritePdu(bhs, dataOut.Span[..immediateLength]);

            // Unsolicited Data-Out (InitialR2T=No): TTT 0xffffffff, DataSN from 0, up to FirstBurstLength (RFC 7143 §11.7).
            uint dataSn = 0;
            for (var offset = immediateLength; offset < unsolicitedEnd;)
            {
                var length = Math.Min(maxPdu, unsolicitedEnd - offset);
                WriteDataOut(lun, itt, ReservedTag, dataSn++, offset, dataOut.Span.Slice(offset, length), offset + length >= unsolicitedEnd);
                dataOutPdus++;
                offset += length;
            }

            await FlushAsync();
        }
        catch
        {
            Unregister(itt);
            throw;
        }
        finally
        {
            _sendLock.Release();
        }

        command.Completion = RunCommandAsync(command, pdus, dataOut, expectedDataIn, edtl, options, dataOutPdus);
        return command;
    }

    private void WriteDataOut(ushort lun, uint itt, uint ttt, uint dataSn, int offset, ReadOnlySpan<byte> data, bool final)
    {
        // RFC 7143 §11.7: F; LUN; ITT; TTT; ExpStatSN; DataSN; Buffer Offset.
        var bhs = NewBhs(IscsiOpcode.ScsiDataOut, immediate: false, final ? Bhs.FinalBit : (byte)0, itt);
        WriteLun(bhs, lun);
        Bhs.SetWord(bhs, Bhs.Word20, ttt);
        Bhs.SetWord(bhs, Bhs.Word36, dataSn);
        Bhs.SetWord(bhs, Bhs.Word40, (uint)offset);
        WritePdu(bhs, data);
    }

    /// <summary>Sends the Data-Out sequence answering one R2T.</summary>
    private async Task<int> AnswerR2TAsync(ushort lun, uint itt, uint ttt, int offset, int length, ReadOnlyMemory<byte> dataOut)
    {
        var maxPdu = Negotiated!.TargetMaxRecvDataSegmentLength;
        var end = Math.Min(offset + length, dataOut.Length);
        var pdus = 0;
        await _sendLock.WaitAsync();
        try
        {
            uint dataSn = 0;
            for (var at = offset; at < end;)
            {
                var n = Math.Min(maxPdu, end - at);
                WriteDataOut(lun, itt, ttt, dataSn++, at, dataOut.Span.Slice(at, n), at + n >= end);
                pdus++;
                at += n;
            }

            await FlushAsync();
        }
        finally
        {
            _sendLock.Release();
        }

        return pdus;
    }

    private async Task<ScsiResult> RunCommandAsync(
        ScsiCommand command,
        ChannelReader<ReceivedPdu> pdus,
        ReadOnlyMemory<byte> dataOut,
        int expectedDataIn,
        uint edtl,
        CommandOptions options,
        int dataOutPdus)
    {
        await Task.Yield();
        var negotiated = Negotiated!;
        var violations = new List<string>();
        var dataIn = new byte[expectedDataIn];
        var received = 0;
        var dataInPdus = 0;
        var r2ts = 0;
        uint expectedDataSn = 0;
        uint expectedR2TSn = 0;
        var burst = 0;
        try
        {
            while (true)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(command.Cancellation);
                wait.CancelAfter(Options.Timeout);
                ReceivedPdu pdu;
                try
                {
                    pdu = await pdus.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!command.Cancellation.IsCancellationRequested)
                {
                    throw new TimeoutException($"command 0x{command.Itt:x8} got no answer within {Options.Timeout}");
                }
                catch (ChannelClosedException ex)
                {
                    throw ex.InnerException as IscsiConnectionClosedException ?? new IscsiConnectionClosedException();
                }

                if (pdu.DataDigestError)
                {
                    violations.Add($"{pdu}: data digest error");
                }

                switch (pdu.Opcode)
                {
                    case IscsiOpcode.Reject:
                        throw new IscsiRejectedException(pdu.Header[2], pdu.Data);

                    case IscsiOpcode.ReadyToTransfer:
                        {
                            // RFC 7143 §11.8: R2TSN from 0; offset + DDTL within EDTL; DDTL ≤ MaxBurstLength.
                            r2ts++;
                            var r2tSn = pdu.Word(36);
                            var offset = (int)pdu.Word(40);
                            var length = (int)pdu.Word(44);
                            if (r2tSn != expectedR2TSn)
                            {
                                violations.Add($"R2TSN {r2tSn}, expected {expectedR2TSn}");
                            }

                            expectedR2TSn = r2tSn + 1;
                            expectedDataSn++; // R2Ts and Data-In share the DataSN space (RFC 7143 §11.7.5, §11.4.8 ExpDataSN).
                            if (length == 0 || length > negotiated.MaxBurstLength)
                            {
                                violations.Add($"R2T desired length {length} outside 1..MaxBurstLength {negotiated.MaxBurstLength}");
                            }

                            if ((long)offset + length > edtl)
                            {
                                violations.Add($"R2T {offset}+{length} beyond EDTL {edtl}");
                            }

                            command.R2TChannel.Writer.TryWrite(pdu);
                            if (options.AnswerR2T)
                            {
                                dataOutPdus += await AnswerR2TAsync(command.Lun, command.Itt, pdu.Word(20), offset, length, dataOut);
                            }

                            break;
                        }

                    case IscsiOpcode.ScsiDataIn:
                        {
                            dataInPdus++;
                            var dataSn = pdu.Word(36);
                            var offset = (int)pdu.Word(40);
                            if (dataSn != expectedDataSn)
                            {
                                violations.Add($"Data-In DataSN {dataSn}, expected {expectedDataSn}");
                            }

                            expectedDataSn = dataSn + 1;
                            if (offset != received)
                            {
                                violations.Add($"Data-In offset {offset}, expected {received} (DataPDUInOrder=Yes)");
                            }

                            if (pdu.Data.Length > Math.Max(Options.MaxRecvDataSegmentLength, 8192))
                            {
                                violations.Add($"Data-In of {pdu.Data.Length} bytes exceeds our MaxRecvDataSegmentLength");
                            }

                            burst += pdu.Data.Length;
                            if (burst > negotiated.MaxBurstLength)
                            {
                                violations.Add($"Data-In sequence of {burst} bytes exceeds MaxBurstLength {negotiated.MaxBurstLength}");
                            }

                            if (pdu.Final)
                            {
                                burst = 0;
                            }

                            if (offset >= 0 && offset <= dataIn.Length)
                            {
                                var fits = Math.Min(pdu.Data.Length, dataIn.Length - offset);
                                pdu.Data.AsSpan(0, fits).CopyTo(dataIn.AsSpan(offset));
                                if (fits < pdu.Data.Length)
                                {
                                    violations.Add($"Data-In beyond the expected {expectedDataIn} bytes");
                                }
                            }

                            received = Math.Max(received, offset + pdu.Data.Length);
                            if ((pdu.Flags & StatusFlag) != 0)
                            {
                                if (!pdu.Final)
                                {
                                    violations.Add("Data-In with S=1 but F=0");
                                }

                                return Result(command, (ScsiStatus)pdu.Header[3], 0, [], dataIn, received, pdu, true, dataInPdus, r2ts, dataOutPdus, violations);
                            }

                            break;
                        }

                    case IscsiOpcode.ScsiResponse:
                        {
                            // RFC 7143 §11.4: ExpDataSN = R2Ts + Data-In sent for the command.
                            var expDataSn = pdu.Word(36);
                            if (expDataSn != (uint)(dataInPdus + r2ts))
                            {
                                violations.Add($"ExpDataSN {expDataSn}, but {dataInPdus} Data-In + {r2ts} R2T were sent");
                            }

                            var sense = Array.Empty<byte>();
                            if (pdu.Data.Length >= 2)
                            {
                                var senseLength = BinaryPrimitives.ReadUInt16BigEndian(pdu.Data);
                                sense = pdu.Data.AsSpan(2, Math.Min(senseLength, pdu.Data.Length - 2)).ToArray();
                            }

                            return Result(command, (ScsiStatus)pdu.Header[3], pdu.Header[2], sense, dataIn, received, pdu, false, dataInPdus, r2ts, dataOutPdus, violations);
                        }

                    default:
                        violations.Add($"unexpected {pdu} for a SCSI command");
                        break;
                }
            }
        }
        finally
        {
            command.R2TChannel.Writer.TryComplete();
        }
    }

    private static ScsiResult Result(
        ScsiCommand command,
        ScsiStatus status,
        byte response,
        byte[] sense,
        byte[] dataIn,
        int received,
        ReceivedPdu last,
        bool inDataIn,
        int dataInPdus,
        int r2ts,
        int dataOutPdus,
        List<string> violations)
    {
        var overflow = (last.Flags & OverflowFlag) != 0;
        var underflow = (last.Flags & UnderflowFlag) != 0;
        if (overflow && underflow)
        {
            violations.Add("both O and U residual flags set");
        }

        var data = received >= dataIn.Length ? dataIn : dataIn[..received];
        return new ScsiResult
        {
            Itt = command.Itt,
            Status = status,
            Response = response,
            Sense = sense,
            Data = data,
            ResidualOverflow = overflow,
            ResidualUnderflow = underflow,
            ResidualCount = overflow || underflow ? last.Word(44) : 0,
            StatusInDataIn = inDataIn,
            DataInPduCount = dataInPdus,
            R2TCount = r2ts,
            DataOutPduCount = dataOutPdus,
            ProtocolViolations = violations,
        };
    }

    /// <summary>
    /// Clears pending unit attentions on <paramref name="lun"/> (the 29/00 POWER ON every new nexus gets first) with
    /// TEST UNIT READY until a command completes without one. Returns the unit attentions seen.
    /// </summary>
    public async Task<IReadOnlyList<SenseCode>> ClearUnitAttentionsAsync(ushort lun = 0)
    {
        var seen = new List<SenseCode>();
        for (var attempt = 0; attempt < 16; attempt++)
        {
            var result = await ExecuteAsync(lun, Cdb.TestUnitReady());
            if (result.Status != ScsiStatus.CheckCondition || result.SenseCode is not { Key: SenseCode.UnitAttention } ua)
            {
                return seen;
            }

            seen.Add(ua);
        }

        throw new InvalidOperationException("unit attentions never cleared");
    }
}
