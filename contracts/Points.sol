// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title A non-transferable points ledger: the owner grants, users spend their own.
/// @notice Points are not a token (no transfer, no approval) on purpose: they reward activity and
///         must not become a market. Each event carries the balance after the change so that a
///         projection can be rebuilt from any single event.
contract Points is Ownable {
    event PointsGranted(address indexed user, uint256 amount, uint256 balance);
    event PointsSpent(address indexed user, uint256 amount, uint256 balance);

    error ZeroAddress();
    error ZeroAmount();
    error InsufficientPoints(uint256 requested, uint256 available);

    mapping(address => uint256) private _points;

    constructor() Ownable(msg.sender) {}

    /// @notice Grants `amount` points to `user`.
    function grant(address user, uint256 amount) external onlyOwner {
        if (user == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _points[user] + amount;
        _points[user] = balance;
        emit PointsGranted(user, amount, balance);
    }

    /// @notice Spends `amount` of the caller's points.
    function spend(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _points[msg.sender];
        if (amount > available) revert InsufficientPoints(amount, available);
        uint256 balance = available - amount;
        _points[msg.sender] = balance;
        emit PointsSpent(msg.sender, amount, balance);
    }

    /// @notice The points `user` holds.
    function pointsOf(address user) external view returns (uint256) {
        return _points[user];
    }
}
