// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Bulk ERC-20 transfers from the caller, with a message, announced by one event.
/// @notice The caller approves this contract for the batch total; each transfer goes straight
///         from the caller to the recipient (the contract never holds funds). One MultiSent per
///         batch lets gatehouse post one "airdrop" message to a community, while the per-recipient
///         Transfer logs keep balances exact.
contract MultiSender {
    using SafeERC20 for IERC20;

    /// @notice Bounds a batch so it always fits a block and a failing batch is cheap to retry.
    uint256 public constant MAX_RECIPIENTS = 256;
    /// @notice Bounds the message: it is stored in the log and shown in chat, not a document.
    uint256 public constant MAX_MESSAGE_BYTES = 1024;

    event MultiSent(address indexed sender, address indexed token, uint256 count, uint256 total, string message);

    error EmptyBatch();
    error BatchTooLarge(uint256 count, uint256 max);
    error LengthMismatch(uint256 recipients, uint256 amounts);
    error ZeroRecipient(uint256 index);
    error ZeroAmount(uint256 index);
    error MessageTooLong(uint256 length, uint256 max);

    /// @notice Sends amounts[i] of `token` from the caller to recipients[i], all or nothing.
    function multiSend(IERC20 token, address[] calldata recipients, uint256[] calldata amounts, string calldata message)
        external
        returns (uint256 total)
    {
        uint256 count = recipients.length;
        if (count == 0) revert EmptyBatch();
        if (count > MAX_RECIPIENTS) revert BatchTooLarge(count, MAX_RECIPIENTS);
        if (amounts.length != count) revert LengthMismatch(count, amounts.length);
        if (bytes(message).length > MAX_MESSAGE_BYTES) revert MessageTooLong(bytes(message).length, MAX_MESSAGE_BYTES);
        for (uint256 i = 0; i < count; ++i) {
            // Explicit reverts rather than the token's own: a zero recipient would burn on some
            // tokens, and a zero amount is almost always a bug in the caller's list.
            if (recipients[i] == address(0)) revert ZeroRecipient(i);
            if (amounts[i] == 0) revert ZeroAmount(i);
            total += amounts[i];
            token.safeTransferFrom(msg.sender, recipients[i], amounts[i]);
        }
        emit MultiSent(msg.sender, address(token), count, total, message);
    }
}
